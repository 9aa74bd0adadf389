"""Policy as code (`pilothouse policy`): Rego policies (OPA's language, evaluated
in-process by regopy in a child process) over the same documents the `--json` outputs
print, as conftest runs them: `deny`/`violation` rules fail, `warn` rules warn."""
