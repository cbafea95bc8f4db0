"""The Windows scripts and the VS Code launch configurations.

Windows cannot run here, so the .bat files are checked statically: the options their help lists
are the ones their argument loop handles (and vice versa), every `manage.py` line parses with
the real command's parser, every `goto`/`call` lands on a label, the line endings are CRLF and
nothing of bash crept in. When wine is installed its cmd.exe runs each script's --help and its
refusals (argument errors, no Python, no .venv), which need no Windows Python.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError

from apps.lifecycle.management.commands.lifecycle import cmd_value
from config.serve import server_command
from config.supervise import CELERY_BEAT, CELERY_WORKER
from tests.lifecycle.conftest import Node

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ("install.bat", "start.bat", "stop.bat", "upgrade.bat")
# upgrade.bat's first argument when it runs from its copy in %TEMP%: internal, not in --help.
INTERNAL_OPTIONS = {"--from-copy"}
# Values of the variables a .bat fills from the user or from Python, for parsing its
# manage.py lines (each script's own `set` lines give the others).
SAMPLE_VALUES = {
    "CHANNEL": "stable",
    "TO": "v0.2.0",
    "REMOTE": "origin",
    "BRANCH": "main",
    "BY": "manual",
    "UPGRADE_ID": "7",
    "BACKUP": r"C:\data\backups\db-20260101T000000Z-0123abcd.sqlite3",
    "REASON": "migrate failed",
}


def script(name: str) -> str:
    return (ROOT / name).read_bytes().decode("ascii")


def script_lines(name: str) -> list[str]:
    return script(name).split("\r\n")


def usage_block(name: str) -> list[str]:
    """The echo lines of the script's :usage label, up to its exit."""
    lines = script_lines(name)
    start = lines.index(":usage")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("exit /b"))
    return lines[start + 1 : end]


def documented_options(name: str) -> set[str]:
    """Options listed in the option table of --help (lines `echo   --opt ...`)."""
    found: set[str] = set()
    for line in usage_block(name):
        match = re.match(r"echo\s{2,}(-[-\w]+(?:, --[-\w]+)?)\s", line)
        if match:
            found.update(part.strip() for part in match.group(1).split(","))
    return found


def usage_line_options(name: str) -> set[str]:
    first = next(line for line in usage_block(name) if line.startswith("echo Usage:"))
    return set(re.findall(r"(?<![\w-])--[a-z][-a-z]*", first))


def handled_options(name: str) -> set[str]:
    """Options the argument loop compares an argument with."""
    text = script(name)
    return set(re.findall(r'if /i "(?:%~1|%OPTION%)"=="(-[-\w]+)"', text))


def sh_options(name: str) -> set[str]:
    """The long options a bash script's usage text names."""
    text = (ROOT / name).read_text()
    usage = text[text.index("<<'USAGE'") : text.index("\nUSAGE\n")]
    return set(re.findall(r"(?<![\w-])--[a-z][-a-z]*", usage))


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_option_in_the_help_is_handled_and_every_handled_option_is_in_the_help(
    name: str,
) -> None:
    documented = documented_options(name)
    handled = handled_options(name) - INTERNAL_OPTIONS
    assert "--help" in documented and "-h" in documented
    assert documented == handled, (name, documented ^ handled)
    # The synopsis names no option the table does not explain.
    assert usage_line_options(name) <= documented, name


@pytest.mark.parametrize(("bat", "sh"), [("start.bat", "start.sh"), ("upgrade.bat", "upgrade.sh")])
def test_the_windows_options_mean_what_the_bash_scripts_options_mean(bat: str, sh: str) -> None:
    # A .bat offers a subset of its bash counterpart's options, with the same names.
    assert documented_options(bat) - {"-h"} <= sh_options(sh) | {"--help"}, bat


def test_the_internal_option_of_upgrade_bat_is_only_its_relaunch() -> None:
    text = script("upgrade.bat")
    assert text.count("--from-copy") == 2  # the check at the top and the relaunch line
    assert '"%SELF_COPY%" --from-copy "%~dp0." %*' in text


# --- The manage.py lines ------------------------------------------------------------------------

# `%%` is a percent sign (in a batch file), `%NAME%` / `%NAME:~0,8%` a variable.
VAR = re.compile(r"%%|%([A-Za-z_][A-Za-z0-9_]*)(?::[^%]*)?%")
SET = re.compile(
    r'^(?:if .*? )?set (?:"([A-Za-z_][A-Za-z0-9_]*)=(.*)"|([A-Za-z_][A-Za-z0-9_]*)=(.*))$'
)


def expand(text: str, env: dict[str, str]) -> str:
    return VAR.sub(
        lambda match: "%" if match.group(0) == "%%" else env.get(match.group(1).upper(), "x"), text
    )


def manage_calls(name: str) -> Iterator[tuple[int, list[str]]]:
    """Each `manage.py ...` line with the script's variables expanded, as an argument list.

    The script is walked in order and its `set` lines applied (an empty value keeps the sample,
    a conditional `set` counts as taken), so the composed arguments (PLAN_ARGS, ATTEMPT,
    ID_ARG) are the script's own.
    """
    env = dict(SAMPLE_VALUES)
    for number, raw in enumerate(script_lines(name), start=1):
        line = raw.strip()
        if line.lower().startswith("rem ") or line.lower().startswith("echo"):
            continue
        match = SET.match(line)
        if match:
            var = (match.group(1) or match.group(3)).upper()
            value = match.group(2) if match.group(1) else match.group(4)
            if value:
                env[var] = expand(value, env)
            continue
        if "manage.py" not in line:
            continue
        after = expand(line.split("manage.py", 1)[1], env)
        # Up to the first redirection.
        after = re.split(r"\s(?:\d?>|>)", " " + after)[0]
        lexer = shlex.shlex(after, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.escape = ""  # Windows paths: a backslash is a character
        yield number, list(lexer)


def bat_manage_lines() -> list[tuple[str, int, list[str]]]:
    return [(name, number, args) for name in SCRIPTS for number, args in manage_calls(name)]


def test_the_scripts_call_manage_py() -> None:
    # The walk found the calls the scripts are made of (a broken parser would find none).
    called = {(name, args[0]) for name, _, args in bat_manage_lines()}
    for name, command in [
        ("install.bat", "migrate"),
        ("install.bat", "ensure_admin"),
        ("install.bat", "createsuperuser"),
        ("start.bat", "node"),
        ("upgrade.bat", "lifecycle"),
    ]:
        assert (name, command) in called
    subcommands = {args[1] for name, _, args in bat_manage_lines() if args[0] == "lifecycle"}
    assert subcommands == {"plan", "finish", "begin", "backup-suffix", "backup", "restore"}


@pytest.mark.parametrize(
    ("name", "number", "args"),
    bat_manage_lines(),
    ids=[f"{name}:{number}" for name, number, _ in bat_manage_lines()],
)
def test_each_manage_py_line_parses_with_the_real_command(
    name: str, number: int, args: list[str]
) -> None:
    commands = get_commands()
    assert args[0] in commands, f"{name}:{number}: no command {args[0]!r}"
    command = load_command_class(commands[args[0]], args[0])
    parser = command.create_parser("manage.py", args[0])
    try:
        parser.parse_args(args[1:])
    except (CommandError, SystemExit) as error:
        pytest.fail(f"{name}:{number}: manage.py {' '.join(args)}: {error}")


def test_upgrade_bat_asks_for_the_plan_in_cmd_lines() -> None:
    plan = next(args for _, _, args in manage_calls_of("upgrade.bat") if args[1] == "plan")
    assert "--cmd" in plan and "--shell" not in plan


def manage_calls_of(name: str) -> list[tuple[str, int, list[str]]]:
    return [(name, number, args) for number, args in manage_calls(name)]


# --- The Python one-liners ---------------------------------------------------------------------


def python_one_liners(name: str) -> list[str]:
    """The `-c "..."` programs of a script, as cmd.exe passes them (variables expanded)."""
    env: dict[str, str] = {}
    programs = []
    for raw in script_lines(name):
        line = raw.strip()
        match = SET.match(line)
        if match and match.group(1):
            env[match.group(1).upper()] = match.group(2)
            continue
        found = re.search(r' -c "(.*?)"(?: |$)', line)
        if found and not line.lower().startswith(("rem ", "echo")):
            programs.append(expand(found.group(1), env))
    return programs


def run_python(program: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", ["install.bat", "start.bat", "upgrade.bat"])
def test_the_python_one_liners_do_what_the_script_expects(name: str, tmp_path: Path) -> None:
    programs = python_one_liners(name)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    env["DATA_DIR"] = str(tmp_path / "data")
    (tmp_path / ".venv").mkdir()
    (tmp_path / "requirements.txt").write_text("Django==5.2.19\n")
    stamp_check = [p for p in programs if "sys.exit(0 if s.exists()" in p]
    stamp_write = [p for p in programs if p.endswith("s.write_text(d)")]
    settings_read = [p for p in programs if "from django.conf import settings" in p]
    version_check = [p for p in programs if "sys.version_info[:2] == (3, 11)" in p]
    assert len(stamp_check) == len(stamp_write) == 1, programs
    assert (name == "upgrade.bat") == (not version_check)
    assert settings_read or name == "install.bat"
    for program in version_check:
        assert run_python(program, tmp_path, env).returncode == 0  # this is Python 3.11
    # The requirements stamp: not installed, installed, changed.
    assert run_python(stamp_check[0], tmp_path, env).returncode == 1
    assert run_python(stamp_write[0], tmp_path, env).returncode == 0
    assert run_python(stamp_check[0], tmp_path, env).returncode == 0
    (tmp_path / "requirements.txt").write_text("Django==5.2.20\n")
    assert run_python(stamp_check[0], tmp_path, env).returncode == 1
    # KEY=VALUE lines, read as `for /f "tokens=1* delims==" ... set "%%A=%%B"` reads them.
    for program in settings_read:
        done = run_python(program, tmp_path, env)
        assert done.returncode == 0, done.stderr
        values = dict(line.split("=", 1) for line in done.stdout.splitlines())
        assert values["DATA_DIR"] == str((tmp_path / "data").resolve())
        if "QUEUE_SETTING" in values:
            assert values["QUEUE_SETTING"] in {"auto", "on", "off"}
        if "STAMP" in values:
            assert re.fullmatch(r"\d{8}T\d{6}Z", values["STAMP"])


# --- Form: CRLF, labels, no bash ---------------------------------------------------------------


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_script_has_crlf_line_endings_and_is_ascii(name: str) -> None:
    data = (ROOT / name).read_bytes()
    data.decode("ascii")  # cmd.exe reads the console's code page
    assert data.count(b"\n") == data.count(b"\r\n") > 10, name
    assert data.endswith(b"\r\n")


def test_git_checks_the_bat_files_out_with_crlf() -> None:
    rules = (ROOT / ".gitattributes").read_text().splitlines()
    assert "*.bat text eol=crlf" in rules


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_goto_and_call_lands_on_a_label(name: str) -> None:
    lines = script_lines(name)
    labels = {line[1:].strip().lower() for line in lines if re.match(r"^:[A-Za-z_]", line)}
    targets = set()
    for line in lines:
        if line.strip().lower().startswith("rem "):
            continue
        targets.update(t.lower() for t in re.findall(r"\bgoto :?([A-Za-z_]\w*)", line))
        targets.update(t.lower() for t in re.findall(r"\bcall :([A-Za-z_]\w*)", line))
    targets.discard("eof")
    assert targets, name
    assert targets <= labels, (name, targets - labels)


BASHISMS = [
    r"\$\(",
    r"\$\{",
    r"\[\[",
    r"/dev/null",
    r"^\s*export\s",
    r"^\s*source\s",
    r";\s*then\b",
    r"^\s*(fi|done|esac)\b",
    r"^#!",
    r"\bset -[euo]",
    # Valid cmd, but wine's cmd.exe runs the right side whatever the left did: the scripts
    # test errorlevel instead, which means the same on Windows.
    r"&&",
]


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_script_has_no_bash_in_it(name: str) -> None:
    for number, line in enumerate(script_lines(name), start=1):
        if line.strip().lower().startswith("rem "):
            continue
        for pattern in BASHISMS:
            assert not re.search(pattern, line), f"{name}:{number}: {pattern}: {line}"
    assert script(name).startswith("@echo off\r\n")


def test_the_process_helper_matches_what_start_bat_starts() -> None:
    helper = (ROOT / "scripts" / "_procs.ps1").read_text()
    start = script("start.bat")
    assert '"%VPY%" -m config.supervise %BIND% %PORT% %CELERY_FLAG%' in start
    # What the supervisor runs (config/supervise.py, config/serve.py) is what stop.bat finds.
    server = server_command("daphne", "0.0.0.0", 8000, max_frame_bytes=65536)
    pairs = [
        ("'-m config.supervise'", "-m config.supervise"),
        ("'config.daphne_server'", " ".join(server)),
        ("'-m celery -A config worker'", " ".join(CELERY_WORKER)),
        ("'-m celery -A config beat'", " ".join(CELERY_BEAT)),
    ]
    for marker, command in pairs:
        assert marker in helper
        assert marker.strip("'") in command


# --- plan --cmd ----------------------------------------------------------------------------------


def test_cmd_values_are_one_ascii_line_without_double_quotes() -> None:
    assert (
        cmd_value("upgrade available: v0.1.0 \u2192 v0.2.0")
        == "upgrade available: v0.1.0 -> v0.2.0"
    )
    assert cmd_value('a "quoted"\nline\r\n  and  more é') == "a 'quoted' line and more ?"
    assert cmd_value("") == ""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="the node fixture runs on Linux")
def test_plan_cmd_says_what_plan_shell_says(node: Node) -> None:
    for channel in ("stable", "latest", "unstable", "fixed"):
        shell = node.manage("lifecycle", "plan", "--channel", channel, "--shell")
        cmd = node.manage("lifecycle", "plan", "--channel", channel, "--cmd")
        assert shell.returncode == cmd.returncode == 0, (shell.stderr, cmd.stderr)
        from_shell = dict(
            line.split("=", 1) for line in shell.stdout.splitlines() if line.startswith("PLAN_")
        )
        from_shell = {key: " ".join(shlex.split(value)) for key, value in from_shell.items()}
        # As upgrade.bat reads them: `for /f "tokens=1* delims==" ... set "%%A=%%B"`.
        from_cmd = dict(line.split("=", 1) for line in cmd.stdout.splitlines())
        assert from_cmd == {key: cmd_value(value) for key, value in from_shell.items()}
        assert from_cmd["PLAN_AVAILABLE"] == ("0" if channel == "fixed" else "1")
        assert all('"' not in value and value.isascii() for value in from_cmd.values())


# --- VS Code -------------------------------------------------------------------------------------


def load_jsonc(path: Path) -> object:
    """Parse JSON with // comments (VS Code's JSONC; no comment marker inside our strings)."""
    lines = path.read_text().splitlines()
    return json.loads("\n".join(re.sub(r"^\s*//.*$", "", line) for line in lines))


def launch_configurations() -> dict[str, dict[str, object]]:
    data = load_jsonc(ROOT / ".vscode" / "launch.json")
    assert isinstance(data, dict)
    return {config["name"]: config for config in data["configurations"]}


def test_launch_json_runs_and_debugs_the_server_start_sh_runs() -> None:
    configs = launch_configurations()
    assert set(configs) == {"Run Server", "Debug Server"}
    # config/serve.py's uvicorn command line with these settings' limits.
    expected = server_command(
        "uvicorn", "127.0.0.1", 8000, max_frame_bytes=settings.OCPP_MAX_FRAME_BYTES
    )
    assert expected[:2] == ["-m", "uvicorn"]
    for config in configs.values():
        assert config["type"] == "debugpy" and config["request"] == "launch"
        assert config["module"] == "uvicorn" and find_spec("uvicorn") is not None
        assert config["args"] == expected[2:]
        assert "--reload" not in config["args"]
        assert config["cwd"] == "${workspaceFolder}"
        app_module, app_name = str(config["args"][0]).split(":")
        assert (ROOT / Path(*app_module.split("."))).with_suffix(".py").is_file()
        assert app_name == "application"
        for option in ("--http", "--ws"):
            module, cls = config["args"][config["args"].index(option) + 1].split(":")
            assert cls in (ROOT / Path(*module.split("."))).with_suffix(".py").read_text()
    assert configs["Run Server"]["noDebug"] is True
    assert "noDebug" not in configs["Debug Server"]
    assert configs["Debug Server"]["justMyCode"] is False


# --- wine's cmd.exe, when installed ------------------------------------------------------------

needs_wine = pytest.mark.skipif(
    shutil.which("wine") is None, reason="no wine here: the .bat files run on Windows only"
)


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    prefix = tmp_path_factory.mktemp("wineprefix")
    env = {**os.environ, "WINEPREFIX": str(prefix), "WINEDEBUG": "-all"}
    for name in ("PYTHON", "DATA_DIR", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    yield env
    subprocess.run(["wineserver", "-k"], env=env, check=False, timeout=60)


def run_bat(
    env: dict[str, str], folder: Path, name: str, *args: str
) -> subprocess.CompletedProcess[str]:
    windows_path = "Z:" + str(folder / name).replace("/", "\\")
    return subprocess.run(
        ["wine", "cmd", "/c", windows_path, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The scripts alone in a folder: no .venv, no Python, nothing to install or serve."""
    for name in SCRIPTS:
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "_procs.ps1", tmp_path / "scripts" / "_procs.ps1")
    return tmp_path


@needs_wine
@pytest.mark.parametrize("name", SCRIPTS)
def test_wine_cmd_prints_the_help_with_every_option(
    wine: dict[str, str], copy: Path, name: str
) -> None:
    shown = run_bat(wine, copy, name, "--help")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.startswith(f"Usage: {name}")
    for option in documented_options(name):
        assert option in shown.stdout, option
    unknown = run_bat(wine, copy, name, "--no-such-option")
    assert unknown.returncode != 0
    assert "error: unknown argument: --no-such-option" in unknown.stderr


@needs_wine
def test_wine_cmd_runs_the_refusals(wine: dict[str, str], copy: Path) -> None:
    for name, args, status, message in [
        ("install.bat", ["--port"], 1, "error: --port needs a value"),
        ("install.bat", ["--port", "08"], 1, "--port must be a number from 1 to 65535"),
        ("install.bat", ["--port", "70000"], 1, "--port must be a number from 1 to 65535"),
        ("install.bat", ["--task", "--remove-task"], 1, "do not go together"),
        ("install.bat", [], 1, "error: Python 3.11 not found"),
        ("start.bat", ["--port", "8o"], 1, "--port must be a number from 1 to 65535"),
        ("start.bat", [], 1, "error: Python 3.11 not found"),
        ("upgrade.bat", ["--to"], 2, "error: --to needs a value"),
        ("upgrade.bat", ["--to", "--check"], 2, "error: --to needs a value"),
        ("upgrade.bat", ["--channel", "weekly"], 2, "--channel must be fixed, stable"),
        ("upgrade.bat", ["--check"], 2, "error: no .venv here"),
    ]:
        done = run_bat(wine, copy, name, *args)
        assert done.returncode == status, (name, args, done.stdout, done.stderr)
        assert message in done.stderr, (name, args, done.stderr)
    # Refused before anything was made.
    assert sorted(path.name for path in copy.iterdir()) == sorted([*SCRIPTS, "scripts"])
