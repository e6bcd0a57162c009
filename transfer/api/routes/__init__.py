"""One module per resource; each exposes ``router`` with its full path prefix.

Routers carry the whole prefix (``/v1/units``) rather than being nested under a
``/v1`` router: the metrics middleware labels requests by ``scope["route"].path``,
which, with this FastAPI, is the path of the router the route was declared on.
"""

API_V1 = "/v1"
