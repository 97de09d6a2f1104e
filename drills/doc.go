// Package drills holds canbao's fault drills (docs/ARCHITECTURE.md, "Nothing lost, nothing
// twice"): Go tests, built only with the tag `drills`, that run the real canbao binary against
// a private, throwaway MariaDB and Redis on free loopback ports and break things under load:
// MariaDB restarted, Redis flushed, the engine SIGKILLed, two engines on one campaign, SIGTERM
// during load, two API instances with two engines losing one of each to SIGKILL (drill 6;
// CANBAO_DRILL_REDIS_ADDRS points it at an outside Redis or Redis Cluster), a Redis Cluster
// master SIGKILLed and restarted (drill 7, cluster runs only), a Sentinel failover (drill 8,
// single-node runs only) and a cluster master failed over to its replica (drill 9, cluster
// runs only, on a 3-master cluster with a replica each). Run them with `make
// drills` (go test -tags drills -count=1 -v ./drills/), or with `make drills-cluster`
// (CANBAO_DRILL_REDIS_CLUSTER=1), where each drill starts its own private 3-master Redis Cluster
// instead of one redis-server and flushes every master. They
// never touch the machine's shared MariaDB (3306) or Redis (6379), and only 127.0.0.1 is
// targeted.
package drills
