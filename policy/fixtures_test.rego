# METADATA
# title: Shared test fixtures (TEST ONLY)
# description: |
#   Input builders, approvers and ES256 key pairs used by the *_test.rego
#   files. The private keys in key_pairs_for_tests_only are TEST-ONLY keys
#   generated for this test suite with `openssl ecparam -name prime256v1
#   -genkey`. They are public; never register them as real approver keys.
#   (No rule here may start with "test_": opa test would run it as a test.)
package aiops.fixtures_test

# TEST-ONLY ES256 (P-256) key pairs, by kid. kid-mallory is deliberately not
# registered in `approvers`: it is used for forgeries and unknown-key tests.
key_pairs_for_tests_only := {
	"kid-alice": {
		"private_jwk": {"kty": "EC", "crv": "P-256", "x": "HoiZjRRABAzmhnZvXI4cWZM9GtrLob1hGlLNoIoG59M", "y": "H61BldhkqeWRDjDSUk8VUabmYYMIcYaEU1F-uunfXWg", "d": "UdhYBmBI5zBcMgpn0l3qbPlQt5xlFLUHuRny4dOD6EY"},
		"public_pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHoiZjRRABAzmhnZvXI4cWZM9GtrL\nob1hGlLNoIoG59MfrUGV2GSp5ZEOMNJSTxVRpuZhgwhxhoRTUX666d9daA==\n-----END PUBLIC KEY-----\n",
	},
	"kid-alice-laptop": {
		"private_jwk": {"kty": "EC", "crv": "P-256", "x": "Wiot7k_rJIWUg6SCNMEtx5v3tq4wBLgDUVGrFihlpmw", "y": "XJQwDqP5mbRyqO_YFI573p-CjbINwotblOVKj_4S4pY", "d": "0F-GM7VDOlbEj6BUfbncA0R6iNYoe4R_XUy5Glv3YXU"},
		"public_pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWiot7k/rJIWUg6SCNMEtx5v3tq4w\nBLgDUVGrFihlpmxclDAOo/mZtHKo79gUjnven4KNsg3Ci1uU5UqP/hLilg==\n-----END PUBLIC KEY-----\n",
	},
	"kid-bob": {
		"private_jwk": {"kty": "EC", "crv": "P-256", "x": "YpQ2C8sogzPtO1_gdmVv66kQ555b2E5SV5w2ARy958Y", "y": "-iKHPVJQiq3cFo5Z3-9oNc-WQCw0yMGKGnznkJIJmDM", "d": "lkMw2CROhFbegUpmevmaJBHGN_Fl2ZyI0GhdpLHF1E4"},
		"public_pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYpQ2C8sogzPtO1/gdmVv66kQ555b\n2E5SV5w2ARy958b6Ioc9UlCKrdwWjlnf72g1z5ZALDTIwYoafOeQkgmYMw==\n-----END PUBLIC KEY-----\n",
	},
	"kid-carol": {
		"private_jwk": {"kty": "EC", "crv": "P-256", "x": "5E562uzPxj4gy5MmCBAZb-7p10UMXFPp56r567tWBuA", "y": "FntT98KEzTgPazDM0bmvT_X6wjpsq54CitP7JYJBNYI", "d": "rmmWvS4ggMUCeTlHGA87PCfdvo4ODIAMDtRJI1nCgpw"},
		"public_pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE5E562uzPxj4gy5MmCBAZb+7p10UM\nXFPp56r567tWBuAWe1P3woTNOA9rMMzRua9P9frCOmyrngKK0/slgkE1gg==\n-----END PUBLIC KEY-----\n",
	},
	"kid-dave": {
		"private_jwk": {"kty": "EC", "crv": "P-256", "x": "Y1uvt8AKmLO8yJu-NJAvxgl4xZk5aQEW-1YHArNafbQ", "y": "W79HUfFOgIBrckxQyHSLkJbYTIdEdMTVhGmyLSMN1NE", "d": "OpYv3ukVh89OaTkshtkxey2f591PgMsTtzbWpOQXqOo"},
		"public_pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY1uvt8AKmLO8yJu+NJAvxgl4xZk5\naQEW+1YHArNafbRbv0dR8U6AgGtyTFDIdIuQlthMh0R0xNWEabItIw3U0Q==\n-----END PUBLIC KEY-----\n",
	},
	"kid-mallory": {
		"private_jwk": {"kty": "EC", "crv": "P-256", "x": "CJ6lBQ0TvbtL9jgP3cW20LEqZDp8mo-7y6kgIJm-9RY", "y": "hFeMS8OjSze36uJ1mmJrqTNvvJoYfGILtUQsb_p--LE", "d": "2I1CkknEfLUS2cgX8taqVEHKeYtzqNIwKyY3G17tBhw"},
		"public_pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECJ6lBQ0TvbtL9jgP3cW20LEqZDp8\nmo+7y6kgIJm+9RaEV4xLw6NLN7fq4nWaYmupM2+8mhh8Ygu1RCxv+n74sQ==\n-----END PUBLIC KEY-----\n",
	},
}

# Approvers as `aiops keys` would register them in data.aiops.approvers.
approvers := {
	"kid-alice": {"name": "alice", "groups": ["sre"], "public_key": key_pairs_for_tests_only["kid-alice"].public_pem},
	"kid-alice-laptop": {"name": "alice", "groups": ["sre"], "public_key": key_pairs_for_tests_only["kid-alice-laptop"].public_pem},
	"kid-bob": {"name": "bob", "groups": ["platform"], "public_key": key_pairs_for_tests_only["kid-bob"].public_pem},
	"kid-carol": {"name": "carol", "groups": ["dba"], "public_key": key_pairs_for_tests_only["kid-carol"].public_pem},
	"kid-dave": {"name": "dave", "groups": ["finance"], "public_key": key_pairs_for_tests_only["kid-dave"].public_pem},
}

now_ns := time.parse_rfc3339_ns("2026-11-26T10:30:00Z")

now_s := floor(now_ns / 1000000000)

# Valid parameters for each catalog action (policy/parameters.rego checks them against their kinds).
_subject_parameters := {
	"collect_diagnostics": {"service": "orders-api"},
	"get_pod_logs": {"service": "orders-api", "since_minutes": 15},
	"query_metrics": {"service": "orders-api", "query": "sum(rate(http_requests_total{service=\"orders-api\"}[5m]))"},
	"capture_thread_dump": {"service": "orders-api"},
	"restart_deployment": {"deployment": "orders-api"},
	"scale_deployment": {"deployment": "orders-api", "replicas": 3},
	"rollback_deployment": {"deployment": "orders-api"},
	"toggle_feature_flag": {"service": "orders-api", "flag": "checkout.v2", "enabled": false},
	"flush_cache": {"service": "orders-api", "cache": "sessions"},
	"failover_database": {"database": "orders-db"},
	"drain_node": {"node": "ip-10-20-37-112.eu-west-1.compute.internal"},
	"purge_queue": {"queue": "order-events"},
}

parameters_for(action) := object.union({"environment": "prod", "namespace": "shop"}, object.get(_subject_parameters, action, {}))

# The gatekeeper's action hash: sha256 over the action and its parameters.
action_hash(action, params) := crypto.sha256(json.marshal({"action": action, "parameters": params}))

proposal(action) := {
	"id": "P1",
	"incident_id": "INC-1",
	"action": action,
	"parameters": parameters_for(action),
	"action_hash": action_hash(action, parameters_for(action)),
	"risk_class": data.aiops.actions[action].risk_class,
	"blast_radius": 1,
	"target": {"environment": "prod", "namespace": "shop", "service": "orders-api"},
	"proposer": {"kind": "reasoner", "name": "runbook-reasoner", "version": "1"},
	"requested_by": null,
	"created_at": "2026-11-26T10:00:00Z",
	"expires_at": "2026-11-26T11:00:00Z",
}

input_for(action, approvals) := {
	"now_ns": now_ns,
	"proposal": proposal(action),
	"approvals": approvals,
	"context": {"recent_executions_for_target": 0},
}

claims(kid, action, decision) := {
	"proposal_id": "P1",
	"action_hash": action_hash(action, parameters_for(action)),
	"decision": decision,
	"exp": now_s + 600,
	"iat": now_s - 60,
	"jti": sprintf("jti-%s-%s-%s", [kid, action, decision]),
	"sub": kid,
}

# Signs claims with the TEST-ONLY private key of signing_kid, naming header_kid
# in the header (header_kid != signing_kid forges a signature).
sign_as(header_kid, signing_kid, token_claims) := io.jwt.encode_sign(
	{"alg": "ES256", "typ": "JWT", "kid": header_kid},
	token_claims,
	key_pairs_for_tests_only[signing_kid].private_jwk,
)

sign(kid, token_claims) := sign_as(kid, kid, token_claims)

event(token, decision) := {
	"proposal_id": "P1",
	"decision": decision,
	"token": token,
	"source": "cli",
	"time": "2026-11-26T10:20:00Z",
}

approve(kid, action) := event(sign(kid, claims(kid, action, "approve")), "approve")

reject(kid, action) := event(sign(kid, claims(kid, action, "reject")), "reject")

# The gate's decision for inp, with the test approvers registered.
decide(inp) := d if {
	d := data.aiops.gate.decision with input as inp with data.aiops.approvers as approvers
}

# The gate's decision for inp, with the given approvers registered.
decide_with_approvers(inp, registered) := d if {
	d := data.aiops.gate.decision with input as inp with data.aiops.approvers as registered
}
