# METADATA
# title: Tests for parameter kinds, checked by Rego independently of the gatekeeper's code
package aiops.parameters_test

import data.aiops.fixtures_test as fx

# A read-only action (no approval needed) with some parameters replaced: only the parameter check can deny.
_diagnostics(overrides) := d if {
	params := object.union(fx.parameters_for("collect_diagnostics"), overrides)
	inp := object.union(fx.input_for("collect_diagnostics", []), {"proposal": {
		"parameters": params,
		"action_hash": fx.action_hash("collect_diagnostics", params),
	}})
	d := fx.decide(inp)
}

_with(action, overrides) := d if {
	params := object.union(fx.parameters_for(action), overrides)
	base := fx.input_for(action, [])
	inp := object.union(base, {"proposal": {"parameters": params, "action_hash": fx.action_hash(action, params)}})
	d := fx.decide(inp)
}

test_allow_valid_parameters if {
	_diagnostics({}).allow == true
}

test_deny_service_with_path_traversal if {
	d := _diagnostics({"service": "../../kube-system"})
	d.allow == false
	"parameter service does not fit its kind name" in d.reasons
}

test_deny_service_with_shell_metacharacters if {
	d := _diagnostics({"service": "orders-api; rm -rf /"})
	d.allow == false
	"parameter service does not fit its kind name" in d.reasons
}

test_deny_service_with_a_newline if {
	d := _diagnostics({"service": "orders-api\nx"})
	d.allow == false
	"parameter service does not fit its kind name" in d.reasons
}

test_deny_names_that_are_not_dns_1123_labels if {
	too_long := concat("", [c | some _ in numbers.range(1, 64); c := "a"])
	every bad in ["Orders-API", "-orders", "orders-", "", too_long] {
		d := _diagnostics({"service": bad})
		d.allow == false
		"parameter service does not fit its kind name" in d.reasons
	}
}

test_allow_name_of_63_characters if {
	name := concat("", [c | some _ in numbers.range(1, 63); c := "a"])
	count(name) == 63
	_diagnostics({"service": name}).allow == true
}

test_deny_namespace_with_a_path if {
	d := _with("restart_deployment", {"namespace": "shop/../../kube-system"})
	"parameter namespace does not fit its kind name" in d.reasons
}

test_deny_undeclared_parameter if {
	d := _diagnostics({"command": "rm -rf /"})
	d.allow == false
	"parameter command is not a parameter of action collect_diagnostics" in d.reasons
}

test_deny_missing_required_parameter if {
	params := json.remove(fx.parameters_for("collect_diagnostics"), ["service"])
	inp := object.union(fx.input_for("collect_diagnostics", []), {"proposal": {"parameters": params}})
	d := fx.decide(json.remove(inp, ["proposal/parameters/service"]))
	d.allow == false
	"missing required parameter service" in d.reasons
}

test_deny_parameters_that_are_not_an_object if {
	d := fx.decide(object.union(fx.input_for("collect_diagnostics", []), {"proposal": {"parameters": "service=x"}}))
	d.allow == false
	"input.proposal.parameters must be an object" in d.reasons
}

test_subdomain_for_nodes if {
	_with("drain_node", {"node": "ip-10-20-37-112.eu-west-1.compute.internal"}).reasons == ["destructive action needs 2 approvals from distinct people, has 0"]
	"parameter node does not fit its kind subdomain" in _with("drain_node", {"node": "node/../etc"}).reasons
	"parameter node does not fit its kind subdomain" in _with("drain_node", {"node": "a..b"}).reasons
}

test_label_values_for_flags if {
	not "parameter flag does not fit its kind label_value" in _with("toggle_feature_flag", {"flag": "cart.session_snapshot"}).reasons
	"parameter flag does not fit its kind label_value" in _with("toggle_feature_flag", {"flag": "a b"}).reasons
	"parameter flag does not fit its kind label_value" in _with("toggle_feature_flag", {"flag": "x$(id)"}).reasons
}

test_counts_within_bounds if {
	not "parameter replicas does not fit its kind count" in _with("scale_deployment", {"replicas": 0}).reasons
	not "parameter replicas does not fit its kind count" in _with("scale_deployment", {"replicas": 1000}).reasons
	every bad in [-1, 1001, 2.5, "3", true] {
		"parameter replicas does not fit its kind count" in _with("scale_deployment", {"replicas": bad}).reasons
	}
}

test_booleans if {
	_with("toggle_feature_flag", {"enabled": false}).reasons == ["state_changing action needs 1 approval, has 0"]
	not "parameter enabled does not fit its kind boolean" in _with("toggle_feature_flag", {"enabled": true}).reasons
	"parameter enabled does not fit its kind boolean" in _with("toggle_feature_flag", {"enabled": "true"}).reasons
}

test_text_capped_and_without_control_characters if {
	ok := _with("query_metrics", {"query": "sum(rate(x{a=\"b\"}[5m]))"})
	ok.allow == true
	long := concat("", [c | some _ in numbers.range(1, 1001); c := "a"])
	every bad in [long, "up\ninstructions", "up\u2028x", "up\u0007", "   "] {
		d := _with("query_metrics", {"query": bad})
		d.allow == false
		"parameter query does not fit its kind text" in d.reasons
	}
}

_duration_spec := {"kind": "duration", "required": false, "pattern": "^([0-9]+(h|m|s|ms))+$", "max_ns": 86400000000000, "min_ns": 1000000000}

_with_duration(value) := d if {
	params := object.union(fx.parameters_for("collect_diagnostics"), {"window": value})
	inp := object.union(fx.input_for("collect_diagnostics", []), {"proposal": {"parameters": params}})
	d := fx.decide(inp) with data.aiops.actions.collect_diagnostics.parameters.window as _duration_spec
}

test_durations if {
	_with_duration("1h30m").allow == true
	_with_duration("24h").allow == true
	_with_duration("1s").allow == true
	every bad in ["25h", "500ms", "1.5h", "90", "1h 30m", 90] {
		d := _with_duration(bad)
		d.allow == false
		"parameter window does not fit its kind duration" in d.reasons
	}
}

_enum_spec := {"kind": "enum", "required": true, "values": ["orders", "payments"]}

test_enums if {
	params := object.union(fx.parameters_for("collect_diagnostics"), {"scope": "orders"})
	inp := object.union(fx.input_for("collect_diagnostics", []), {"proposal": {"parameters": params}})
	allowed := fx.decide(inp) with data.aiops.actions.collect_diagnostics.parameters.scope as _enum_spec
	allowed.allow == true
	denied := fx.decide(object.union(inp, {"proposal": {"parameters": {"scope": "all"}}})) with data.aiops.actions.collect_diagnostics.parameters.scope as _enum_spec
	"parameter scope does not fit its kind enum" in denied.reasons
	missing := fx.decide(fx.input_for("collect_diagnostics", [])) with data.aiops.actions.collect_diagnostics.parameters.scope as _enum_spec
	"missing required parameter scope" in missing.reasons
}

test_deny_parameter_of_an_unknown_kind if {
	d := _diagnostics({}) with data.aiops.actions.collect_diagnostics.parameters.service as {"kind": "shell", "required": true}
	d.allow == false
	"parameter service does not fit its kind shell" in d.reasons
}

test_deny_action_without_parameter_specs if {
	d := _diagnostics({}) with data.aiops.actions.collect_diagnostics.parameters as null
	d.allow == false
	"action collect_diagnostics has no parameter specs in the bundle data" in d.reasons
}

# --- the shipped allowlist: concrete namespaces and environments, deny by default ---

test_shipped_allowlist_names_no_wildcard if {
	every _, entry in data.aiops.allowlist {
		not "*" in entry.namespaces
		not "*" in entry.environments
	}
}

test_deny_namespaces_and_environments_outside_the_shop if {
	d := fx.decide(object.union(fx.input_for("collect_diagnostics", []), {"proposal": {"target": {"namespace": "kube-system"}}}))
	"target namespace kube-system not allowed for action collect_diagnostics" in d.reasons
	e := fx.decide(object.union(fx.input_for("collect_diagnostics", []), {"proposal": {"target": {"environment": "dev"}}}))
	"target environment dev not allowed for action collect_diagnostics" in e.reasons
	s := fx.decide(object.union(fx.input_for("collect_diagnostics", []), {"proposal": {"target": {"environment": "staging"}}}))
	s.allow == true
}
