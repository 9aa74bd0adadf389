# Workflow-file rules of your own over the checkout's .github/workflows:
#   pilothouse policy check docs/examples/policies/workflows.rego --input workflows
package pilothouse.workflows

import rego.v1

# Every job declares a timeout (a hung job otherwise bills for 6 hours).
deny contains msg if {
	some item in input.workflows
	some name, job in item.workflow.jobs
	not job["timeout-minutes"]
	not job.uses # a reusable workflow's caller cannot set one
	msg := sprintf("%s: job \"%s\" has no timeout-minutes", [item.file, name])
}

# Third-party actions are pinned to a full commit SHA.
warn contains msg if {
	some item in input.workflows
	some name, job in item.workflow.jobs
	some step in job.steps
	uses := step.uses
	not startswith(uses, "./")
	not startswith(uses, "docker://")
	not regex.match(`@[0-9a-f]{40}$`, uses)
	msg := sprintf("%s: job \"%s\" uses %s, not pinned to a commit", [item.file, name, uses])
}
