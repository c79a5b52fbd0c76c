/*
 * Versioned schema migrations. Each entry brings the schema from version
 * i to i+1 inside one transaction; entries are never edited once
 * released, only appended.
 *
 * Deletion model (docs/DELETION.md): plans, jobs and snapshots carry the
 * `epoch` of their client at creation. DeleteBackupClientResource bumps
 * the client's epoch, which deletes every older row from the API's point
 * of view at once (the live_* views join on it); store_purge.c then
 * removes the dead rows in small batches and queues what the snapshots
 * stored for space reclamation. `purge_pending` records which clients
 * have dead rows, so that work is found in proportion to what was deleted.
 */
#include "common.h"
#include "store/store.h"
#include "util/error.h"
#include "util/timeutil.h"

static const char *const migrations[] = {
	/* 1: accounts, RAM, resources, audit */
	"CREATE TABLE accounts ("
	" account_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" created_time INTEGER NOT NULL);"
	"CREATE TABLE users ("
	" user_id TEXT PRIMARY KEY,"
	" account_id TEXT NOT NULL REFERENCES accounts(account_id),"
	" name TEXT NOT NULL, created_time INTEGER NOT NULL,"
	" UNIQUE (account_id, name));"
	"CREATE TABLE access_keys ("
	" access_key_id TEXT PRIMARY KEY, secret TEXT NOT NULL,"
	" account_id TEXT NOT NULL REFERENCES accounts(account_id),"
	" user_id TEXT REFERENCES users(user_id),"
	" status TEXT NOT NULL DEFAULT 'Active',"
	" created_time INTEGER NOT NULL);"
	"CREATE INDEX access_keys_user ON access_keys(user_id);"
	"CREATE TABLE user_policies ("
	" user_id TEXT NOT NULL REFERENCES users(user_id),"
	" name TEXT NOT NULL, document TEXT NOT NULL,"
	" PRIMARY KEY (user_id, name));"
	"CREATE TABLE vaults ("
	" vault_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
	" name TEXT NOT NULL, region TEXT NOT NULL, vault_type TEXT NOT NULL,"
	" status TEXT NOT NULL, created_time INTEGER NOT NULL,"
	" updated_time INTEGER NOT NULL, doc TEXT NOT NULL);"
	"CREATE INDEX vaults_account ON vaults(account_id, created_time,"
	" vault_id);"
	"CREATE TABLE clients ("
	" client_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
	" instance_id TEXT NOT NULL, client_type TEXT NOT NULL,"
	" status TEXT NOT NULL, backup_status TEXT NOT NULL,"
	" epoch INTEGER NOT NULL DEFAULT 1,"
	" created_time INTEGER NOT NULL, updated_time INTEGER NOT NULL,"
	" last_heartbeat INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL,"
	" UNIQUE (account_id, instance_id));"
	"CREATE INDEX clients_account ON clients(account_id,"
	" created_time, client_id);"
	"CREATE TABLE tasks ("
	" task_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
	" name TEXT NOT NULL, created_time INTEGER NOT NULL,"
	" updated_time INTEGER NOT NULL, completed_time INTEGER,"
	" description TEXT NOT NULL, progress INTEGER NOT NULL,"
	" result TEXT NOT NULL, doc TEXT NOT NULL);"
	"CREATE TABLE plans ("
	" plan_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
	" client_id TEXT NOT NULL REFERENCES clients(client_id),"
	" epoch INTEGER NOT NULL, vault_id TEXT NOT NULL,"
	" instance_id TEXT NOT NULL, source_type TEXT NOT NULL,"
	" plan_name TEXT NOT NULL, disabled INTEGER NOT NULL,"
	" created_time INTEGER NOT NULL, updated_time INTEGER NOT NULL,"
	" doc TEXT NOT NULL);"
	"CREATE INDEX plans_client ON plans(client_id, epoch);"
	"CREATE INDEX plans_account ON plans(account_id, created_time,"
	" plan_id);"
	"CREATE TABLE jobs ("
	" job_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
	" client_id TEXT NOT NULL REFERENCES clients(client_id),"
	" epoch INTEGER NOT NULL, plan_id TEXT, vault_id TEXT NOT NULL,"
	" instance_id TEXT NOT NULL, source_type TEXT NOT NULL,"
	" status TEXT NOT NULL, created_time INTEGER NOT NULL,"
	" updated_time INTEGER NOT NULL, complete_time INTEGER,"
	" doc TEXT NOT NULL);"
	"CREATE INDEX jobs_client ON jobs(client_id, epoch);"
	"CREATE INDEX jobs_account ON jobs(account_id, created_time,"
	" job_id);"
	"CREATE TABLE snapshots ("
	" snapshot_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
	" client_id TEXT NOT NULL REFERENCES clients(client_id),"
	" epoch INTEGER NOT NULL, vault_id TEXT NOT NULL, plan_id TEXT,"
	" job_id TEXT, instance_id TEXT NOT NULL,"
	" source_type TEXT NOT NULL, status TEXT NOT NULL,"
	" created_time INTEGER NOT NULL, complete_time INTEGER,"
	" actual_bytes INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL);"
	"CREATE INDEX snapshots_client ON snapshots(client_id, epoch);"
	"CREATE INDEX snapshots_vault ON snapshots(vault_id,"
	" created_time, snapshot_id);"
	"CREATE TABLE restore_jobs ("
	" restore_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
	" snapshot_id TEXT NOT NULL, source_client_id TEXT NOT NULL,"
	" vault_id TEXT NOT NULL, target_instance_id TEXT NOT NULL,"
	" status TEXT NOT NULL, created_time INTEGER NOT NULL,"
	" updated_time INTEGER NOT NULL, doc TEXT NOT NULL);"
	"CREATE INDEX restore_jobs_source ON restore_jobs(source_client_id,"
	" status);"
	"CREATE TABLE purge_pending ("
	" client_id TEXT PRIMARY KEY, below_epoch INTEGER NOT NULL);"
	"CREATE TABLE gc_queue ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, vault_id TEXT NOT NULL,"
	" snapshot_id TEXT NOT NULL, client_id TEXT NOT NULL,"
	" actual_bytes INTEGER NOT NULL, doc TEXT NOT NULL,"
	" enqueued_time INTEGER NOT NULL);"
	"CREATE TABLE audit_log ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
	" request_id TEXT NOT NULL, account_id TEXT, principal TEXT,"
	" access_key_id TEXT, source_ip TEXT, action TEXT NOT NULL,"
	" client_ids TEXT, code TEXT NOT NULL,"
	" plans_deleted INTEGER NOT NULL DEFAULT 0,"
	" jobs_deleted INTEGER NOT NULL DEFAULT 0,"
	" snapshots_deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE VIEW live_plans AS SELECT p.* FROM plans p"
	" JOIN clients c ON c.client_id = p.client_id AND c.epoch = p.epoch;"
	"CREATE VIEW live_jobs AS SELECT j.* FROM jobs j"
	" JOIN clients c ON c.client_id = j.client_id AND c.epoch = j.epoch;"
	"CREATE VIEW live_snapshots AS SELECT s.* FROM snapshots s"
	" JOIN clients c ON c.client_id = s.client_id AND c.epoch = s.epoch;",
	/*
	 * 2: resource lifecycle (DeleteVault, DeleteBackupClient, restore
	 * jobs). Deleted vaults and clients keep their rows, hidden by
	 * `deleted`: dead plans, jobs and snapshots still reference the
	 * client until the purge, and gc_queue entries name the vault until
	 * space reclamation has freed it. A client's proxy password lives
	 * outside its document so no Describe call ever returns it.
	 */
	"ALTER TABLE vaults ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE clients ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE clients ADD COLUMN proxy_password TEXT NOT NULL"
	" DEFAULT '';"
	"ALTER TABLE restore_jobs ADD COLUMN restore_type TEXT NOT NULL"
	" DEFAULT 'ECS_FILE';"
	"ALTER TABLE restore_jobs ADD COLUMN complete_time INTEGER;"
	"CREATE VIEW live_vaults AS SELECT * FROM vaults WHERE deleted = 0;"
	"CREATE VIEW live_clients AS SELECT * FROM clients WHERE deleted = 0;"
	"CREATE INDEX plans_vault ON plans(vault_id);"
	"CREATE INDEX jobs_vault ON jobs(vault_id, status);"
	"CREATE INDEX jobs_plan ON jobs(plan_id);"
	"CREATE INDEX restore_jobs_account ON restore_jobs(account_id,"
	" created_time, restore_id);"
	"CREATE INDEX restore_jobs_vault ON restore_jobs(vault_id, status);"
	"CREATE INDEX restore_jobs_snapshot ON restore_jobs(snapshot_id,"
	" status);",
	/*
	 * 3: the scheduler (store_sched.c, docs/SCHEDULER.md). plan_sched
	 * holds, per plan, the latest schedule boundary dealt with, which
	 * runs are claimed against; sched_lease names the one hbrd that
	 * ticks. Retention finds a plan's expired snapshots by index.
	 */
	"CREATE TABLE plan_sched ("
	" plan_id TEXT PRIMARY KEY, schedule TEXT NOT NULL,"
	" handled INTEGER NOT NULL);"
	"CREATE TABLE sched_lease ("
	" id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL,"
	" until INTEGER NOT NULL);"
	"CREATE INDEX snapshots_plan ON snapshots(plan_id, created_time);",
	/*
	 * 4: a plan's Schedule as a column, so the scheduler's scan reads
	 * one short text per plan instead of parsing every plan document
	 * each tick (6.6 % of a core for 10,000 plans before).
	 * json_extract is SQLite's; a PostgreSQL driver backfills with
	 * doc::jsonb->>'Schedule'.
	 */
	"ALTER TABLE plans ADD COLUMN schedule TEXT NOT NULL DEFAULT '';"
	"UPDATE plans SET schedule ="
	" COALESCE(json_extract(doc, '$.Schedule'), '');",
	/*
	 * Agent keys: a key bound to a backup client (hbr-client's own
	 * credential) may act only for that client. NULL for operator keys.
	 */
	"ALTER TABLE access_keys ADD COLUMN client_id TEXT;"
	" CREATE INDEX access_keys_client"
	" ON access_keys(client_id);",
	/*
	 * 6: the agent data plane (docs/AGENT-PROTOCOL.md, store_data.c).
	 * One chunks row per chunk per vault says which pack holds it;
	 * `refs` counts the live snapshots naming it (reclamation lowers
	 * it and stamps dead_since at 0). A packs row is 'writing' from
	 * before its object is put until its chunk rows exist ('live'), so
	 * a crash in between leaves a row naming the object to reclaim.
	 * `pack_offset`, not `offset`: OFFSET is reserved in PostgreSQL.
	 * A snapshot's tree is the JSON array of its tree chunk ids, in
	 * order; stored_bytes the bytes its commit first made referenced.
	 */
	"CREATE TABLE chunks ("
	" vault_id TEXT NOT NULL, chunk_id BLOB NOT NULL,"
	" pack_id TEXT NOT NULL, pack_offset INTEGER NOT NULL,"
	" stored_len INTEGER NOT NULL, raw_len INTEGER NOT NULL,"
	" flags INTEGER NOT NULL, refs INTEGER NOT NULL DEFAULT 0,"
	" dead_since INTEGER,"
	" PRIMARY KEY (vault_id, chunk_id)) WITHOUT ROWID;"
	"CREATE INDEX chunks_pack ON chunks(vault_id, pack_id);"
	"CREATE TABLE packs ("
	" vault_id TEXT NOT NULL, pack_id TEXT NOT NULL,"
	" state TEXT NOT NULL, bytes INTEGER NOT NULL,"
	" live_bytes INTEGER NOT NULL DEFAULT 0,"
	" created_time INTEGER NOT NULL,"
	" PRIMARY KEY (vault_id, pack_id));"
	"CREATE INDEX packs_state ON packs(state, created_time);"
	"ALTER TABLE snapshots ADD COLUMN tree TEXT;"
	"ALTER TABLE snapshots ADD COLUMN stored_bytes INTEGER NOT NULL"
	" DEFAULT 0;"
	"CREATE INDEX restore_jobs_target ON restore_jobs(account_id,"
	" target_instance_id, status);",
	/*
	 * 7: space reclamation (docs/RECLAMATION.md, store_reclaim.c).
	 * gc_batch is the batch of deleted snapshots being applied to the
	 * reference counts, with its cursor; jobs.start_time is when a
	 * backup job started running (the protection cutoff); the partial
	 * index finds packs under half live without reading the others.
	 */
	"CREATE TABLE gc_batch ("
	" vault_id TEXT PRIMARY KEY, first_id INTEGER NOT NULL,"
	" last_id INTEGER NOT NULL, cursor BLOB,"
	" done INTEGER NOT NULL DEFAULT 0);"
	"ALTER TABLE jobs ADD COLUMN start_time INTEGER;"
	"CREATE INDEX jobs_vault_status ON jobs(vault_id, status);"
	"CREATE INDEX gc_queue_vault ON gc_queue(vault_id, id);"
	"CREATE INDEX packs_sparse ON packs(vault_id, pack_id)"
	" WHERE live_bytes * 2 < bytes;",
	/*
	 * 8: each client's exclusive bytes (docs/RECLAMATION.md, "What
	 * deleting a client would free"), kept by the commit and the
	 * reclaimer that change the counts, never computed by a scan. A
	 * chunk's owner is the client whose snapshot took it from 0
	 * references to 1, owner_refs the references its owner's
	 * snapshots hold; the chunk is exclusive to its owner while
	 * refs = owner_refs > 0. client_bytes sums those chunks' stored
	 * bytes per client and vault. Chunks referenced before this
	 * migration have no owner and count for nobody.
	 */
	"ALTER TABLE chunks ADD COLUMN owner TEXT;"
	"ALTER TABLE chunks ADD COLUMN owner_refs INTEGER NOT NULL"
	" DEFAULT 0;"
	"CREATE TABLE client_bytes ("
	" client_id TEXT NOT NULL, vault_id TEXT NOT NULL,"
	" exclusive_bytes INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (client_id, vault_id));"
	"CREATE INDEX client_bytes_vault ON client_bytes(vault_id);",
	/*
	 * 9: a pack's live_bytes counts each referenced chunk's 48-byte pack
	 * entry too. Without it a pack of tiny live chunks, whose header
	 * outweighs their data, stayed "under half live" after its rewrite
	 * and was rewritten again on every pass. Recounted once here.
	 */
	"UPDATE packs SET live_bytes = (SELECT COALESCE(SUM(c.stored_len"
	" + 48), 0) FROM chunks c WHERE c.vault_id = packs.vault_id"
	" AND c.pack_id = packs.pack_id AND c.refs > 0)"
	" WHERE state = 'live';",
	/*
	 * 10: space first, counts after (docs/RECLAMATION.md). A batch's
	 * phase 1 lowers only the chunks it takes to 0, listing them in
	 * gc_zeroed, so the packs they empty go at once; phase 2 lowers
	 * the rest and skips those listed. A batch begun before this
	 * migration is in phase 2 with nothing listed: the single pass it
	 * was begun with.
	 */
	"ALTER TABLE gc_batch ADD COLUMN phase INTEGER NOT NULL DEFAULT 2;"
	"CREATE TABLE gc_zeroed ("
	" vault_id TEXT NOT NULL, chunk_id BLOB NOT NULL,"
	" PRIMARY KEY (vault_id, chunk_id)) WITHOUT ROWID;",
	/*
	 * 11: exact exclusive bytes (docs/RECLAMATION.md, "What deleting a
	 * client would free"). A chunk one client alone references keeps
	 * it as owner with owner_refs = refs, as before; a chunk two or
	 * more reference has no owner, and chunk_shares counts each
	 * client's references to it.
	 *
	 * A vault of clients sharing most of their data has ten share rows
	 * per chunk or more, so a share is as small as it can be: the vault
	 * and the client are numbers (share_names; a name keeps its number
	 * for good, so no row can come to mean another client), and the
	 * key is the only index. It leads with the chunk: reclamation reads
	 * and changes a chunk's holders together, and a commit's sorted ids
	 * walk it in order; nothing asks for one client's shares in order
	 * (a client's go as reclamation applies its snapshots).
	 *
	 * Who references the chunks that migration 8's scheme lost track
	 * of (refs <> owner_refs: its "counted for nobody") is written only
	 * in the vault's refs objects, which SQL cannot read: those chunks
	 * become shared with no shares known, and exclusive_recount lists
	 * their vaults for the reclaimer, which recounts each once from
	 * the refs objects (gc_exclusive.c). Chunks one client alone held
	 * are exact already and stay as they are.
	 */
	"CREATE TABLE share_names ("
	" no INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE chunk_shares ("
	" vault_no INTEGER NOT NULL, chunk_id BLOB NOT NULL,"
	" client_no INTEGER NOT NULL, refs INTEGER NOT NULL,"
	" PRIMARY KEY (vault_no, chunk_id, client_no)) WITHOUT ROWID;"
	"CREATE TABLE exclusive_recount (vault_id TEXT PRIMARY KEY);"
	"INSERT INTO exclusive_recount (vault_id) SELECT DISTINCT vault_id"
	" FROM chunks WHERE refs > 0 AND (owner IS NULL"
	" OR refs <> owner_refs);"
	"UPDATE chunks SET owner = NULL, owner_refs = 0 WHERE refs > 0"
	" AND (owner IS NULL OR refs <> owner_refs);",
};

int hbr_store_schema_version(int64_t *out, struct hbr_store *s)
{
	return hbr_store_count(out, s,
	                       "SELECT COALESCE(MAX(version), 0)"
	                       " FROM schema_version",
	                       NULL);
}

int hbr_store_migrate(struct hbr_store *s)
{
	int64_t have = 0;
	int error;

	if ((error = s->ops->exec(s, "CREATE TABLE IF NOT EXISTS"
	                             " schema_version (version INTEGER"
	                             " PRIMARY KEY, applied INTEGER)")) < 0)
		return error;
	if ((error = hbr_store_schema_version(&have, s)) < 0)
		return error;
	if (have > (int64_t)HBR_ARRAY_SIZE(migrations))
		return hbr_error_set(HBR_EIO,
		                     "database schema v%lld is newer than"
		                     " this hbrd (v%zu)",
		                     (long long)have,
		                     HBR_ARRAY_SIZE(migrations));
	for (size_t v = (size_t)have; v < HBR_ARRAY_SIZE(migrations); v++) {
		if ((error = hbr_store_begin(s)) < 0)
			return error;
		/* Another process may have migrated while we waited for
		 * the write lock. */
		if ((error = hbr_store_schema_version(&have, s)) < 0)
			goto fail;
		if ((size_t)have > v)
			goto next;
		if ((error = s->ops->exec(s, migrations[v])) < 0 ||
		    (error = hbr_store_execf(s,
		                             "INSERT INTO schema_version"
		                             " VALUES (?, ?)",
		                             "ii", (int64_t)v + 1,
		                             hbr_time_now())) < 0)
			goto fail;
	next:
		if ((error = hbr_store_commit(s)) < 0)
			goto fail;
	}
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}
