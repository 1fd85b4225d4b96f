/*-------------------------------------------------------------------------
 *
 * inval.h
 *	  Transactional invalidation: the queue and its transaction callbacks
 *	  (inval_queue.c), the commit-time sender (inval_send.c) and the
 *	  mc_invalidate trigger (inval_trigger.c) (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_INVAL_H
#define PYLIBMC_PG_INVAL_H

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

#endif							/* PYLIBMC_PG_INVAL_H */
