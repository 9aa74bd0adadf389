"""Driving CI from pilothouse: trigger a workflow and follow its run (`ci run`), and the
baselines the scorecard compares with (`ci baseline`).

`workflow` (pure: a workflow file's dispatch trigger and inputs), `dispatch` (the API
edge: find the workflow, dispatch, find the run it started), `watch` (pure state and
rendering of a run being followed, plus the poller), `baseline` (pure baselines per
workflow from stored records).
"""
