"""The sample shop as a traffic model: its endpoints, what each one calls and logs, and how long its own work takes.

The call graph is the one in handbook/notes/note-shop-architecture.md. A request is simulated hop by hop:
each endpoint does some work of its own, calls its callees in order (a client span in the caller, a server span
in an instrumented callee; a datastore answers without spans of its own), and writes its log statements, each
with the logger and line it comes from. Faults (aiops/demo/faults.py) change how one service behaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LogStatement:
    logger: str  # class#line, as the logging pattern writes it
    level: str
    text: str  # with {id}, {n}, {ms}, {sku} placeholders
    share: float = 1.0  # a data-dependent branch: the share of requests that write it
    branch: str | None = None  # statements of one branch group: exactly one is written per request
    after_calls: bool = True  # written after the calls (skipped when the request fails before)


@dataclass(frozen=True)
class Call:
    callee: str  # a service, or a datastore (no spans of its own)
    endpoint: str | None = None  # the callee's endpoint; None for a datastore
    operation: str = ""  # the client span's name
    fallback: bool = False  # the caller carries on when this call fails (degraded, not failed)


@dataclass(frozen=True)
class Endpoint:
    service: str
    name: str
    work_ms: float  # median of the endpoint's own work (log-normal)
    calls: tuple[Call, ...] = ()
    logs: tuple[LogStatement, ...] = ()
    result: str = "result"  # what it returns, in words (for the wrong-return-value fault)


def _db(store: str, query: str) -> Call:
    return Call(store, None, f"{query} {store}")


ENDPOINTS: dict[str, Endpoint] = {e.service + " " + e.name: e for e in (
    Endpoint("web-frontend", "GET /checkout", 6, (Call("api-gateway", "POST /api/checkout", "POST api-gateway"),),
             (LogStatement("pages/checkout.tsx#41", "info", "rendered checkout for session {id} in {ms}ms"),)),
    Endpoint("web-frontend", "GET /search", 4, (Call("api-gateway", "GET /api/search", "GET api-gateway"),),
             (LogStatement("pages/search.tsx#22", "info", "rendered search results ({n} hits) in {ms}ms"),)),
    Endpoint("web-frontend", "GET /product", 5, (Call("api-gateway", "GET /api/product", "GET api-gateway"),),
             (LogStatement("pages/product.tsx#30", "info", "rendered product {sku} in {ms}ms"),)),
    Endpoint("web-frontend", "POST /login", 3, (Call("api-gateway", "POST /api/login", "POST api-gateway"),),
             (LogStatement("pages/login.tsx#18", "info", "login form submitted for session {id}"),)),
    Endpoint("api-gateway", "POST /api/checkout", 2, (Call("checkout-api", "POST /checkout", "POST checkout-api"),),
             (LogStatement("router.go#88", "info", "route POST /api/checkout -> checkout-api in {ms}ms"),)),
    Endpoint("api-gateway", "GET /api/search", 2, (Call("search-api", "GET /search", "GET search-api"),),
             (LogStatement("router.go#88", "info", "route GET /api/search -> search-api in {ms}ms"),)),
    Endpoint("api-gateway", "GET /api/product", 2,
             (Call("inventory-api", "GET /stock", "GET inventory-api"),
              Call("recommendation-api", "GET /recommendations", "GET recommendation-api", fallback=True)),
             (LogStatement("router.go#88", "info", "route GET /api/product -> inventory-api in {ms}ms"),)),
    Endpoint("api-gateway", "POST /api/login", 2, (Call("auth-service", "POST /token", "POST auth-service"),),
             (LogStatement("router.go#88", "info", "route POST /api/login -> auth-service in {ms}ms"),)),
    Endpoint("auth-service", "POST /token", 12, (_db("users-db", "SELECT"),),
             (LogStatement("TokenService#57", "info", "issued token for user {id} (expires in 3600s)"),
              LogStatement("TokenService#63", "info", "token {id} signed with key shop-rs256-2"))),
    Endpoint("checkout-api", "POST /checkout", 8,
             (_db("cart-redis", "GET"), Call("inventory-api", "GET /stock", "GET inventory-api"),
              Call("payments-api", "POST /charges", "POST payments-api"),
              Call("orders-api", "POST /orders", "POST orders-api")),
             (LogStatement("CheckoutService#74", "info", "checkout started for cart {id}", after_calls=False),
              LogStatement("CheckoutService#121", "info", "checkout completed for cart {id}: order placed"))),
    Endpoint("inventory-api", "GET /stock", 6, (_db("inventory-db", "SELECT"),),
             (LogStatement("StockController#52", "info", "stock lookup for sku {sku}", after_calls=False),
              LogStatement("StockService#88", "info", "sku {sku} in stock: {n} units", 0.85, "stock"),
              LogStatement("StockService#93", "info", "sku {sku} low stock: {n} units left", 0.15, "stock")),
             result="stock level"),
    Endpoint("payments-api", "POST /charges", 15, (_db("payments-db", "INSERT"),),
             (LogStatement("ChargeService#66", "info", "charge {id} authorized via acmepay in {ms}ms"),
              LogStatement("ChargeService#70", "info", "charge {id} recorded"))),
    Endpoint("orders-api", "POST /orders", 9,
             (_db("orders-db", "INSERT"), Call("shipping-api", "POST /shipments", "POST shipping-api")),
             (LogStatement("orders.go#142", "info", "order {id} created with {n} items"),
              LogStatement("orders.go#160", "info", "order {id} published to order-events"))),
    Endpoint("shipping-api", "POST /shipments", 7, (),
             (LogStatement("ShipmentController#39", "info", "shipment quote for order {id} from parcelnet",
                           after_calls=False),
              LogStatement("ShipmentService#102", "info", "shipment {id} booked, eta {n} days"))),
    Endpoint("search-api", "GET /search", 7, (_db("search-es", "POST"),),
             (LogStatement("SearchRoutes.kt#47", "info", "query took {ms}ms hits={n}"),)),
    Endpoint("recommendation-api", "GET /recommendations", 20, (),
             (LogStatement("recommend.py#88", "info", "served {n} recommendations for sku {sku}"),),
             result="recommendations"),
)}

# Entry requests at web-frontend, with their share of the traffic.
TRAFFIC = (("web-frontend GET /checkout", 0.3), ("web-frontend GET /search", 0.35),
           ("web-frontend GET /product", 0.3), ("web-frontend POST /login", 0.05))

SERVICES = sorted({e.service for e in ENDPOINTS.values()})
DATASTORES = sorted({c.callee for e in ENDPOINTS.values() for c in e.calls if c.endpoint is None})


def endpoints_of(service: str) -> list[Endpoint]:
    return [e for e in ENDPOINTS.values() if e.service == service]


@dataclass
class Hop:
    """What one simulated request did in one service: spans, log lines, and whether it failed."""

    spans: list[dict] = field(default_factory=list)
    logs: list[dict] = field(default_factory=list)
    failed: bool = False
    message: str | None = None
    duration_ms: float = 0.0
