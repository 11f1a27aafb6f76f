"""What gateways and L7 balancers define: the one home of nginx's, Kong's and Envoy/Istio's
defaults and semantics that the simulator models (sources in README, "Simulation: sources").

nginx `ngx_http_upstream_keepalive_module.c` (1.22.1 and master): each worker process has its
own cache of `keepalive N` idle connections; a request takes the first cached connection to the
chosen peer from the head of the queue, i.e. the most recently returned one (MRU); a connection is
closed instead of cached after its `keepalive_requests`-th request, or when older than
`keepalive_time`; returned to a full cache it evicts the least recently returned idle connection
(LRU); an idle one closes after `keepalive_timeout`. nginx's `keepalive_requests 0` means "never
reuse" (`requests >= 0` always holds).

Kong runs the same cache through OpenResty's balancer (`ngx_http_lua_balancer.c`) with
`upstream_keepalive_*` settings; there `max_requests 0` means unlimited and there is no
`keepalive_time`. A Kong upstream that targets a Service's DNS name resolves to the cluster IP, so
all its connections share one pool per worker, and kube-proxy picks the pod per connection.
"""

from __future__ import annotations

#: Kong `upstream_keepalive_pool_size` (kong.conf.default; 60 before Kong 3.5)
KONG_POOL_SIZE = 512
#: Kong `upstream_keepalive_max_requests` (10000 since Kong 3.6; 1000 in 3.5, 100 before); 0 = unlimited
KONG_MAX_REQUESTS = 10_000
#: Kong `upstream_keepalive_idle_timeout`, seconds (0 = never)
KONG_IDLE_TIMEOUT_S = 60.0
#: nginx `keepalive_requests` default (1000 since 1.19.10, 100 before); 0 = never reuse
NGINX_KEEPALIVE_REQUESTS = 1000
#: nginx `keepalive_timeout` default for upstream connections, seconds
NGINX_KEEPALIVE_TIMEOUT_S = 60.0
#: nginx `keepalive_time` default (since 1.19.10): a connection older than this is not reused
NGINX_KEEPALIVE_TIME_S = 3600.0

#: per-request balancers the simulator models, in Envoy's (Istio's) names
ROUND_ROBIN, LEAST_REQUEST, RANDOM = "round-robin", "least-request", "random"
L7_ALGORITHMS = (ROUND_ROBIN, LEAST_REQUEST, RANDOM)
#: Istio's default `DestinationRule` load balancer since Istio 1.14 (ROUND_ROBIN before)
ISTIO_DEFAULT = LEAST_REQUEST
#: Envoy's least-request `choice_count` default: it samples this many hosts, with replacement, and
#: keeps the one with the fewest active requests (the first sampled on a tie): power of two choices
ENVOY_CHOICE_COUNT = 2
