# METADATA
# title: Action parameters
# description: |
#   Checks every parameter of the proposed action against the kind the
#   bundle data declares for it (data.aiops.actions[action].parameters, kept
#   equal to actions/catalog.yaml by a test): Kubernetes names, subdomains and
#   label values by pattern and length, durations, counts within bounds,
#   enums, and free text with a length cap and no control characters. The
#   gatekeeper validates the same kinds in code first; this is the second,
#   independent check. Undeclared parameters and missing specs deny.
package aiops.parameters

import data.aiops.catalog

_specs := catalog.entry.parameters if is_object(catalog.entry.parameters)

_parameters := input.proposal.parameters if is_object(input.proposal.parameters)

_has_parameters if _parameters

_present[name] := value if {
	some name, value in _parameters
	value != null
}

# --- kinds -------------------------------------------------------------------

_pattern_kinds := {"name", "subdomain", "label_value"}

_fits(spec, value) if {
	spec.kind in _pattern_kinds
	is_string(value)
	count(value) <= spec.max_length
	regex.match(spec.pattern, value)
}

_fits(spec, value) if {
	spec.kind == "count"
	is_number(value)
	floor(value) == value
	value >= spec.min
	value <= spec.max
}

_fits(spec, value) if {
	spec.kind == "enum"
	is_array(spec.values)
	value in spec.values
}

_fits(spec, value) if {
	spec.kind == "boolean"
	is_boolean(value)
}

_fits(spec, value) if {
	spec.kind == "text"
	is_string(value)
	trim_space(value) != ""
	count(value) <= spec.max_length
	not regex.match(`[\p{Cc}\p{Zl}\p{Zp}]`, value)
}

_fits(spec, value) if {
	spec.kind == "duration"
	is_string(value)
	regex.match(spec.pattern, value)
	nanos := time.parse_duration_ns(value)
	nanos >= object.get(spec, "min_ns", 0)
	nanos <= spec.max_ns
}

# --- violations --------------------------------------------------------------

# METADATA
# title: Parameter violations
# description: Deny reasons for undeclared, missing or ill-fitting parameters.
violations contains msg if {
	catalog.entry
	not _specs
	msg := sprintf("action %s has no parameter specs in the bundle data", [catalog.action_name])
}

violations contains "input.proposal.parameters must be an object" if {
	is_object(input.proposal)
	not _has_parameters
}

violations contains msg if {
	some name, _ in _parameters
	_specs
	not _specs[name]
	msg := sprintf("parameter %v is not a parameter of action %s", [substring(name, 0, 80), catalog.action_name])
}

violations contains msg if {
	some name, spec in _specs
	object.get(spec, "required", true) == true
	_has_parameters
	not name in object.keys(_present)
	msg := sprintf("missing required parameter %s", [name])
}

violations contains msg if {
	some name, value in _present
	spec := _specs[name]
	not _fits(spec, value)
	msg := sprintf("parameter %s does not fit its kind %v", [name, object.get(spec, "kind", "(none)")])
}
