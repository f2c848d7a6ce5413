"""Runs a synthesized Step Functions definition (the subset the compaction uses) against a local lake.

Task states that start an Athena query run their statement, `States.Format` resolved exactly as Step
Functions does, on DuckDB; `getQueryResults` hands back those rows as Athena's ResultSet; `listExecutions`
asks the test which executions run (newest first, as Step Functions lists them); Pass and Choice states
are evaluated, `$$` (the context object) included. So a test can prove that what the deployed state machine
would run compacts correctly, and what two executions at once do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any


def definition(template: dict) -> dict:
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "REF" for p in parts))


class StatesRuntime(AssertionError):
    """What Step Functions fails an execution with when a path is absent from the state's input."""


def path_get(data: Any, path: str, context: dict | None = None) -> Any:
    """A reference path: `.key`, `[n]`, and Jayway's slice `[-1:]` (a list of the last item, empty for an empty
    list; the keys after it map over that list). `$$.` reads the context object."""
    if path.startswith("$$."):
        data, path = context or {}, path[1:]
    listed = False
    for key, index in re.findall(r"\.(\w+)(?:\[(-1:|\d+)\])?", path.removeprefix("$")):
        if listed:
            data = [item[key] for item in data]
            continue
        if not isinstance(data, dict) or key not in data:
            raise StatesRuntime(f"States.Runtime: the JSONPath {path} could not be found in the input")
        data = data[key]
        if index == "-1:":
            data, listed = data[-1:], True
        elif index:
            if int(index) >= len(data):
                raise StatesRuntime(f"States.Runtime: the JSONPath {path} could not be found in the input")
            data = data[int(index)]
    return data


def is_present(data: Any, path: str) -> bool:
    try:
        path_get(data, path)
    except StatesRuntime:
        return False
    return True


def path_set(data: dict, path: str, value: Any) -> dict:
    keys = path.removeprefix("$.").split(".")
    target = data
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value
    return data


def states_format(expression: str, data: dict) -> str:
    """States.Format('text with {} and \\' escapes', $.a, $.b) as Step Functions evaluates it."""
    match = re.fullmatch(r"States\.Format\('((?:\\.|[^'\\])*)'((?:, *\$[\w.\[\]]+)*)\)", expression, re.S)
    assert match, expression
    args = [path_get(data, a.strip()) for a in match[2].split(",")[1:]]
    out, text, i = [], match[1], 0
    while i < len(text):
        if text[i] == "\\":
            out.append(text[i + 1])
            i += 2
        elif text.startswith("{}", i):
            out.append(str(args.pop(0)))
            i += 2
        else:
            out.append(text[i])
            i += 1
    assert not args, "more arguments than placeholders"
    return "".join(out)


def run(
    definition: dict,
    data: dict,
    athena: Callable[[str], list[dict]],
    max_steps: int = 500,
    execution: str = "arn:aws:states:us-east-1:111122223333:execution:compaction:one",
    running: Callable[[], list[str]] | None = None,
) -> tuple[dict, list[str]]:
    """Execute from StartAt as `execution`; returns the final state data and every statement run, in order.
    `running()` answers listExecutions (newest first); by default only this execution runs."""
    context = {
        "Execution": {"Id": execution},
        "StateMachine": {"Id": execution.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")},
    }
    running = running or (lambda: [execution])
    results: dict[str, list[dict]] = {}
    statements: list[str] = []
    name = definition["StartAt"]
    for _ in range(max_steps):
        state = definition["States"][name]
        if state["Type"] == "Succeed":
            return data, statements
        if state["Type"] == "Choice":
            name = next((c["Next"] for c in state["Choices"] if _holds(c, data)), state.get("Default"))
            continue
        if state["Type"] == "Pass":
            passed: Any = (
                state["Result"]
                if "Result" in state
                else {
                    k.removesuffix(".$"): path_get(data, v, context) if k.endswith(".$") else v
                    for k, v in state.get("Parameters", {}).items()
                }
            )
            data = path_set(data, state["ResultPath"], passed) if state.get("ResultPath") else passed
            name = state["Next"]
            continue
        assert state["Type"] == "Task", state["Type"]
        params = state["Parameters"]
        result: Any
        if state["Resource"].endswith(":aws-sdk:sfn:listExecutions"):
            assert path_get(data, params["StateMachineArn.$"], context) == context["StateMachine"]["Id"]
            assert params["StatusFilter"] == "RUNNING"
            result = {"Executions": [{"ExecutionArn": arn, "Status": "RUNNING"} for arn in running()]}
        elif state["Resource"].endswith(":athena:startQueryExecution.sync"):
            sql = states_format(params["QueryString.$"], data) if "QueryString.$" in params else params["QueryString"]
            statements.append(sql)
            results[str(len(results))] = athena(sql)
            result = {"QueryExecution": {"QueryExecutionId": str(len(results) - 1)}}
        elif state["Resource"].endswith(":athena:getQueryResults"):
            rows = results[path_get(data, params["QueryExecutionId.$"])]
            header = {"Data": [{"VarCharValue": k} for k in rows[0]]} if rows else {"Data": []}
            result = {
                "ResultSet": {
                    "Rows": [header]
                    + [{"Data": [{"VarCharValue": None if v is None else str(v)} for v in row.values()]} for row in rows]
                }
            }
        else:
            raise AssertionError(f"task resource not simulated: {state['Resource']}")
        if "ResultSelector" in state:
            result = {
                k.removesuffix(".$"): path_get(result, v) if k.endswith(".$") else v for k, v in state["ResultSelector"].items()
            }
        if state.get("ResultPath", "$") is not None:
            data = path_set(data, state["ResultPath"], result) if state.get("ResultPath", "$") != "$" else result
        name = state["Next"]
    raise AssertionError("the state machine did not finish")


def _holds(choice: dict, data: dict) -> bool:
    if "And" in choice:
        return all(_holds(c, data) for c in choice["And"])
    if "Or" in choice:
        return any(_holds(c, data) for c in choice["Or"])
    if "Not" in choice:
        return not _holds(choice["Not"], data)
    if "IsPresent" in choice:
        return is_present(data, choice["Variable"]) is choice["IsPresent"]
    value = path_get(data, choice["Variable"])
    if "StringEquals" in choice:
        return value == choice["StringEquals"]
    if "BooleanEquals" in choice:
        return value is choice["BooleanEquals"]
    if "StringEqualsPath" in choice:
        return value == path_get(data, choice["StringEqualsPath"])
    raise AssertionError(f"choice rule not simulated: {choice}")
