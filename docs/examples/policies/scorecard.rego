# A team's release gate over `pilothouse score --json`:
#   pilothouse policy check docs/examples/policies/scorecard.rego --input score
package pilothouse.scorecard

import rego.v1

# Every criterion the scorecard says is missed fails the gate...
deny contains msg if {
	some criterion in input.criteria
	criterion.status == "missed"
	not waived[criterion.id]
	msg := sprintf("%s: %v %s against a target of %s %v %s", [
		criterion.title, criterion.value, criterion.unit,
		criterion.comparison, criterion.target, criterion.unit,
	])
}

# ...except the ones this team has waived for now (a warning instead).
waived := {"artifact_size"}

warn contains msg if {
	some criterion in input.criteria
	criterion.status == "missed"
	waived[criterion.id]
	msg := sprintf("%s missed (waived): %s", [criterion.title, criterion.detail])
}

# A stricter rule than the default target: test time must meet the stretch goal.
deny contains {"msg": msg, "criterion": "test_time"} if {
	some criterion in input.criteria
	criterion.id == "test_time"
	is_number(criterion.value) # no data is no test time, not a slow one
	criterion.value >= 40
	msg := sprintf("test time %v min is not under the 40 min stretch goal", [criterion.value])
}
