/*-------------------------------------------------------------------------
 *
 * pylibmc_pg.h
 *	  Private declarations of the pylibmc_pg extension.
 *
 * Each backend owns one libmemcached client, built lazily from the
 * pylibmc_pg.* settings (guc.c) by client.c.  Values are encoded and decoded
 * with pylibmc's flags by codec.c; the SQL functions live in one file per
 * family (reads.c, writes.c, counters.c, multi.c, admin.c), the
 * transactional invalidation in inval_queue.c (the queue), inval_send.c
 * (the commit-time batch) and inval_trigger.c (mc_invalidate), this
 * backend's own counters in stats.c, the whole cluster's (shared memory,
 * when preloaded) in cluster_stats.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_H
#define PYLIBMC_PG_H

#include "postgres.h"

#include <libmemcached/memcached.h>

#include "fmgr.h"
#include "portability/instr_time.h"

#include "compat.h"
#include "config.h"
#include "value.h"

/* memcached's own limit on a key, in bytes, namespace included */
#define PMC_MAX_KEY_LEN		250

/* largest key + value we send over UDP (one datagram, below 64 KB) */
#define PMC_MAX_UDP_VALUE	60000

/* ---------- guc.c ---------- */

typedef enum PmcOnError
{
	PMC_ON_ERROR_ERROR,
	PMC_ON_ERROR_WARNING,
	PMC_ON_ERROR_IGNORE
} PmcOnError;

extern PmcServerList *pmc_server_list;	/* parsed pylibmc_pg.servers */
extern PmcBehaviorList *pmc_behavior_list;	/* parsed pylibmc_pg.behaviors */
extern bool pmc_binary;
extern char *pmc_username;
extern char *pmc_password;
extern char *pmc_namespace;
extern int	pmc_on_error;
extern int	pmc_invalidation_hold;	/* seconds; 0: delete */
extern char *pmc_password_file;

extern void pmc_define_gucs(void);

/*
 * ERROR if a setting's current value is a stored value its check refused
 * (fail closed); called before the client is built or reused.
 */
extern void pmc_check_settings_usable(void);

/* was the value chosen by a role that may not read the password? */
extern bool pmc_servers_chosen_by_role(void);
extern bool pmc_password_chosen_by_role(void);

/* ---------- credentials.c ---------- */

extern bool pmc_sasl_has_secret(void);
extern void pmc_check_credentials_destination(void);
extern char *pmc_sasl_password(void);
extern void pmc_forget_password(char *password);

/* ---------- client.c ---------- */

extern memcached_st *pmc_client(void);
extern memcached_st *pmc_client_for_key(const char *key, size_t keylen);
extern memcached_result_st *pmc_client_result(void);
extern memcached_result_st *pmc_client_spare_result(void);
extern memcached_return_t pmc_apply_behaviors(memcached_st *mc, const PmcBehaviorList *list,
											  const PmcBehaviorSetting **refused);
extern bool pmc_client_cas_wanted(void);
extern void pmc_client_keep_value(char *value);
extern void pmc_client_release_value(void);
extern void pmc_client_set_cas(memcached_st *mc, bool on);
extern void pmc_mark_client_stale(void);
extern void pmc_mark_client_broken(void);
extern void pmc_reset_connections(void);
extern void pmc_disconnect_all(void);
extern bool pmc_client_is_udp(void);
extern void pmc_forbid_udp(const char *what);
extern size_t pmc_namespace_length(void);
extern memcached_return_t pmc_client_auth_rc(memcached_return_t rc);
extern void pmc_client_request_ok(void);
extern memcached_st *pmc_new_client_from_settings(char **problem);

/*
 * Mark a request in flight (pmc_guard_enter/leave do it): if an ERROR or a
 * cancel cuts us off before pmc_io_end(), the replies still in flight are
 * dropped by closing the connections, at the next call or at abort.
 */
extern void pmc_io_begin(void);
extern void pmc_io_end(void);

/* ---------- keys.c ---------- */

/* Key checks: ERROR on an empty, too long or unsafe key */
extern void pmc_check_key(const char *key, size_t len);
extern char *pmc_key_from_text(text *t, size_t *len);
/* a key buffer for pmc_key_into(): the longest key and its NUL */
#define PMC_KEY_BUFSIZE		(PMC_MAX_KEY_LEN + 1)
extern char *pmc_key_into(text *t, char *buf, size_t *len);
extern char *pmc_server_to_utf8(const char *s, int len, size_t *utf8len);
extern char *pmc_prefixed_key(const char *prefix, size_t prefixlen,
							  text *t, size_t *len);
extern char *pmc_printable_key(const char *key, size_t len);

/* Argument checks shared by the operations */
extern time_t pmc_check_ttl(int32 ttl);

/* ---------- codec.c ---------- */

typedef struct PmcValue
{
	char	   *data;
	size_t		len;
	uint32		flags;
} PmcValue;

extern void pmc_check_value_type(Oid typid);
extern void pmc_encode(Datum value, Oid typid, PmcValue *out);
extern void pmc_check_compression(int32 min_compress_len, int32 compress_level);
extern void pmc_compress(PmcValue *value, int32 min_compress_len, int32 compress_level);
extern void pmc_check_datum_size(size_t len, const char *key);
extern Datum pmc_decode(const char *data, size_t len, uint32 flags, Oid typid,
						const char *key, size_t keylen, bool *isnull);
extern Oid	pmc_value_argtype(FunctionCallInfo fcinfo, int argno);
extern Oid	pmc_value_argtype_cached(FunctionCallInfo fcinfo, int argno);

/* ---------- stats.c ---------- */

typedef enum PmcOp
{
	PMC_OP_GET,
	PMC_OP_GET_MULTI,
	PMC_OP_SET,
	PMC_OP_ADD,
	PMC_OP_REPLACE,
	PMC_OP_APPEND,
	PMC_OP_PREPEND,
	PMC_OP_CAS,
	PMC_OP_DELETE,
	PMC_OP_TOUCH,
	PMC_OP_INCR,
	PMC_OP_DECR,
	PMC_OP_FLUSH,
	PMC_OP_STATS,
	PMC_OP_INVALIDATE,
	PMC_NUM_OPS
} PmcOp;

typedef enum PmcOutcome
{
	PMC_HIT,					/* a read found it, a write stored it */
	PMC_MISS,					/* not found, not stored */
	PMC_ERROR
} PmcOutcome;

extern void pmc_stats_reset_servers(memcached_st *mc);
extern void pmc_stats_count(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
							PmcOutcome outcome, size_t sent, size_t received,
							instr_time start);
extern void pmc_stats_count_server(uint32_t index, PmcOp op, PmcOutcome outcome,
								   size_t sent, size_t received, instr_time start);
extern void pmc_stats_count_calls(uint32_t index, PmcOp op, PmcOutcome outcome,
								  long ncalls, size_t sent, size_t received);
extern const char *pmc_op_name(PmcOp op);

/* ---------- cluster_stats.c: the same counters, cluster-wide ---------- */

extern int	pmc_cluster_stats_max;	/* pylibmc_pg.cluster_stats_max */
extern bool pmc_cluster_stats_on;	/* preloaded: the shared counters exist */

extern void pmc_cluster_stats_init(void);
extern void pmc_cluster_stats_count(int slot, const char *server, PmcOp op,
									PmcOutcome outcome, long ncalls, size_t sent,
									size_t received, instr_time elapsed);

/* writes.c: one request; HIT stored/deleted, MISS not, ERROR failed */
extern PmcOutcome pmc_store(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
							const PmcValue *value, time_t ttl, uint64_t cas);
extern PmcOutcome pmc_delete_key(memcached_st *mc, const char *key, size_t keylen, time_t ttl);

/* ---------- exchange.c ---------- */

#define PMC_OUTCOME_UNSET	((PmcOutcome) -1)

/*
 * One request to memcached: what it is (for counters and messages) and,
 * after pmc_exchange(), how it ended.
 */
typedef struct PmcExchange
{
	memcached_st *mc;
	PmcOp		op;				/* counted under it; PMC_NUM_OPS: not counted */
	const char *verb;			/* "get", "set", "get several keys", ... */
	const char *key;			/* NULL for a keyless request */
	size_t		keylen;
	size_t		sent;			/* bytes, for the counters */
	size_t		received;
	bool		quiet;			/* the caller reports failures itself */
	bool		retry_safe;		/* idempotent: one more try on a closed connection */
	memcached_return_t caller_handles;	/* this rc is reported by the caller */

	/* set by the exchange function or by pmc_exchange() */
	PmcOutcome	outcome;		/* fn may set HIT or MISS */
	memcached_return_t rc;
	bool		abort_caught;	/* libmemcached abort()ed: rebuilt */
	char	   *failed_servers; /* names, when fn found some servers failed */
	int			nfailed_servers;
} PmcExchange;

typedef memcached_return_t (*PmcExchangeFn) (memcached_st *mc, void *arg);

/* Prepare an exchange (inline: every call makes one) */
static inline void
pmc_exchange_init(PmcExchange *x, memcached_st *mc, PmcOp op, const char *verb,
				  const char *key, size_t keylen)
{
	memset(x, 0, sizeof(*x));
	x->mc = mc;
	x->op = op;
	x->verb = verb;
	x->key = key;
	x->keylen = keylen;
	x->sent = key ? keylen : 0;
}
extern PmcOutcome pmc_exchange(PmcExchange *x, PmcExchangeFn fn, void *arg);
extern void pmc_report_failure(PmcExchange *x);
extern bool pmc_rc_is_server_failure(memcached_return_t rc);
extern memcached_return_t pmc_fetch_failure(memcached_st *mc);
extern uint32_t pmc_server_index(memcached_st *mc, const char *key, size_t keylen);
extern char *pmc_instance_name(const memcached_instance_st *instance);

extern void pmc_guard_enter(void);
extern int32_t pmc_guard_wait(const memcached_st *mc, bool connecting, int32_t timeout,
							  void *context);
extern bool pmc_guard_gave_up(void);
extern void pmc_guard_leave(void);
extern void pmc_guard_reset(void);
extern bool pmc_guarded_call(void (*fn) (void *arg), void *arg);
extern void pmc_quit_guarded(memcached_st *mc);

/* multi-key calls: a server that failed once is not asked again */
extern void pmc_call_begin(memcached_st *mc);
extern void pmc_call_end(void);
extern bool pmc_call_server_failed(memcached_st *mc, const char *key, size_t keylen);

/* ---------- invalidation: inval_queue.c, inval_send.c, inval_trigger.c ---------- */

/* the queue and its transaction callbacks */
extern void pmc_invalidation_init(void);
extern void pmc_inval_queue(const char *key, size_t len, int config);

/* the sender: configurations recorded at queue time, the batch */
extern int	pmc_inval_config(void);
extern void pmc_inval_unpin_all(void);
extern void pmc_inval_disconnect(void);
typedef struct PmcInvalSend PmcInvalSend;
extern PmcInvalSend *pmc_inval_send_begin(int hold);
extern void pmc_inval_send_keys(PmcInvalSend *send, int config,
								const char *const *keys, const uint32 *lens, int n);
extern void pmc_inval_send_lost(PmcInvalSend *send, long n);
extern void pmc_inval_send_end(PmcInvalSend *send);

#endif							/* PYLIBMC_PG_H */
