"""Print "STATUS BODY" of a GET of URL (a node's /healthz); exit 0 only on 200.

Used by start.sh and upgrade.sh to wait for a server. Never via a proxy. Over TLS it asks our
own process on a loopback or bind address, which the certificate need not name: it checks
that the server answers, not who it is.
"""

from __future__ import annotations

import ssl
import sys
import urllib.error
import urllib.request


def main(url: str) -> int:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=ssl._create_unverified_context()),
    )
    try:
        with opener.open(url, timeout=5) as response:
            print(response.status, response.read().decode())
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode())
    except OSError as error:
        print(error)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
