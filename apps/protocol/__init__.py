"""The OCPP-J protocol layer: framing, schemas, errors, versions, the engine, call matching.

Plain Python (sans-I/O): no Django, no sockets, no database and no `apps.*` outside this
package, so every module here is unit-testable with strings in and strings out. The
import-linter contracts in `.importlinter` keep it that way.
"""
