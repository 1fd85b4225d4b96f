/*-------------------------------------------------------------------------
 *
 * invalidate.c
 *	  mc_delete_on_commit() and the mc_invalidate() trigger (placeholder
 *	  until the transactional queue lands).
 *
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

void
pmc_invalidation_init(void)
{
}
