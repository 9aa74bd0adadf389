"""The child process that evaluates Rego with regopy (`python -m pilothouse.policy.worker`).

regopy's C++ runtime prints parse errors on standard output and aborts the process on
some inputs; evaluating here keeps both away from the command's own output and
process. Reads {"modules": [[name, text]], "input": doc, "queries": [..]} as JSON on
stdin; writes {"results": {query: output}} or {"error": text} on the original stdout,
while everything the runtime prints goes to stderr. Each answer is the runtime's
own text: JSON, `undefined`, or an `(error ...)` form.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    request = json.load(sys.stdin)
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    from regopy import Interpreter
    from regopy.rego_shared import RegoError, rego_output_string, rego_query

    try:
        rego = Interpreter()
        for name, text in request["modules"]:
            rego.add_module(name, text)
        rego.set_input(request["input"])
        # The raw answer: JSON, "undefined", or an "(error ...)" form that regopy's own
        # Output cannot parse.
        results = {
            query: rego_output_string(rego_query(rego._impl, query)) for query in request["queries"]
        }
        payload: dict[str, object] = {"results": results}
    except RegoError as exc:
        payload = {"error": str(exc)}
    sys.stdout.flush()
    json.dump(payload, answer)
    answer.close()


if __name__ == "__main__":
    main()
