/* The backup pipeline (agent_backup.h): the job, the walk and the tree;
 * the workers are in agent_worker.c. */
#include "common.h"
#include "agent/agent_pipeline.h"

/* ---- hard links: (dev, inode) -> the first path seen ---------------- */

static size_t hl_slot(uint64_t dev, uint64_t ino, size_t cap)
{
	uint64_t h = (ino ^ (dev << 32 | dev >> 32)) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (cap - 1);
}

static const char *hl_find_or_add(struct backup *b, uint64_t dev, uint64_t ino,
                                  const char *path)
{
	size_t i;

	if ((b->hl_n + 1) * 2 > b->hl_cap) {
		size_t cap = b->hl_cap ? b->hl_cap * 2 : 64;
		struct hl_entry *t = hbr_calloc(cap, sizeof(*t));

		for (size_t j = 0; j < b->hl_cap; j++) {
			if (!b->hl[j].path)
				continue;
			i = hl_slot(b->hl[j].dev, b->hl[j].ino, cap);
			while (t[i].path)
				i = (i + 1) & (cap - 1);
			t[i] = b->hl[j];
		}
		hbr_free(b->hl);
		b->hl = t;
		b->hl_cap = cap;
	}
	for (i = hl_slot(dev, ino, b->hl_cap); b->hl[i].path;
	     i = (i + 1) & (b->hl_cap - 1))
		if (b->hl[i].dev == dev && b->hl[i].ino == ino)
			return b->hl[i].path;
	b->hl[i].dev = dev;
	b->hl[i].ino = ino;
	b->hl[i].path = hbr_strdup(path);
	b->hl_n++;
	return NULL;
}

static void hl_free(struct backup *b)
{
	for (size_t i = 0; i < b->hl_cap; i++)
		hbr_free(b->hl[i].path);
	hbr_free(b->hl);
	b->hl = NULL;
	b->hl_cap = b->hl_n = 0;
}

/* ---- the tree ------------------------------------------------------ */

static int tree_write(struct backup *b, bool all)
{
	const char *p = b->tree_out.ptr;
	size_t len = b->tree_out.len;

	if (!all && len < TREE_FLUSH)
		return 0;
	while (len) {
		ssize_t n = write(b->tree_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hbr_agent_job_fail(
			        b->job,
			        hbr_error_set_os(HBR_EIO, "write %s",
			                         b->tree_path),
			        "tree");
		p += n;
		len -= (size_t)n;
	}
	hbr_buf_clear(&b->tree_out);
	return 0;
}

/* An entry's lines, written out as they fill the buffer: a huge file's
 * continuation lines never sit in memory all at once. */
static int encode(struct backup *b, const struct hbr_agent_entry *e)
{
	size_t next = 0;
	int error;

	do {
		if ((error = hbr_agent_entry_encode_line(&b->tree_out, e,
		                                         &next)) < 0)
			return hbr_agent_job_fail(b->job, error, "tree");
		if (next < e->n_chunks && (error = tree_write(b, false)) < 0)
			return error;
	} while (next < e->n_chunks);
	return 0;
}

/* Write the finished entries at the head of the window to the tree. */
static int drain(struct backup *b)
{
	uint64_t t0;
	int error;

	while (b->head < b->tail) {
		struct slot *s = &b->slots[b->head % WINDOW];
		int state = atomic_load(&s->state);

		if (state == SLOT_WORK)
			break;
		t0 = hbr_time_mono_ns();
		if (state == SLOT_READY && (error = encode(b, &s->e)) < 0)
			return error;
		if (state == SLOT_READY)
			hbr_agent_index_add(&b->index, &s->e);
		b->ns_encode += hbr_time_mono_ns() - t0;
		atomic_fetch_add(&b->job->items_done, 1);
		atomic_store(&s->state, SLOT_FREE);
		b->head++;
		if ((error = tree_write(b, false)) < 0)
			return error;
	}
	return 0;
}

/* Wait until the slot at the head is done (or the job stops). */
static void wait_head(struct backup *b)
{
	struct timespec ts;

	pthread_mutex_lock(&b->lock);
	if (b->head < b->tail &&
	    atomic_load(&b->slots[b->head % WINDOW].state) == SLOT_WORK &&
	    !stopped(b)) {
		/* Timed: SIGTERM sets a flag nobody signals. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&b->done_cv, &b->lock, &ts);
	}
	pthread_mutex_unlock(&b->lock);
}

/* ---- the walk ------------------------------------------------------ */

static bool unchanged(const struct hbr_agent_entry *p,
                      const struct hbr_agent_entry *e)
{
	return p && p->type == 'f' && p->size == e->size &&
	       p->mtime_ns == e->mtime_ns && p->ctime_ns == e->ctime_ns &&
	       p->ino == e->ino && (p->n_chunks || !p->size);
}

/* The fingerprints of an unchanged big file's chunks go on to the next
 * table as they were (the walker's list). */
static void reuse_fps(struct backup *b, const struct hbr_agent_entry *p)
{
	if (!b->fp_on || !b->fp_parent.n || p->sparse ||
	    p->size < HBR_AGENT_FP_MIN_FILE)
		return;
	for (size_t i = 0; i < p->n_chunks; i++) {
		const uint8_t *fp =
		        hbr_agent_fp_table_find(&b->fp_parent, p->chunks[i].id);
		if (fp)
			hbr_agent_fp_list_add(&b->fp_lists[0], p->chunks[i].id,
			                      fp);
	}
}

/* A changed big file's parent chunks, for its worker to try first. */
static void keep_parent_chunks(struct backup *b, struct slot *s,
                               const struct hbr_agent_entry *p)
{
	s->pn = 0;
	if (!b->fp_on || !b->fp_parent.n || p->sparse || p->n_chunks < 2 ||
	    p->size < HBR_AGENT_FP_MIN_FILE)
		return;
	hbr_grow((void **)&s->pc, &s->pcap, p->n_chunks, sizeof(*s->pc));
	memcpy(s->pc, p->chunks, p->n_chunks * sizeof(*s->pc));
	s->pn = p->n_chunks;
}

static void reuse(struct hbr_agent_entry *e, const struct hbr_agent_entry *p)
{
	e->n_chunks = 0;
	for (size_t i = 0; i < p->n_chunks; i++)
		hbr_agent_entry_add_chunk(e, p->chunks[i].id, p->chunks[i].len);
	e->n_ext = 0;
	e->sparse = p->sparse;
	for (size_t i = 0; i < p->n_ext; i++)
		hbr_agent_entry_add_extent(e, p->ext[i].off, p->ext[i].len);
}

/* Decide what the walked entry needs; the slot's new state. */
static int classify(struct backup *b, struct slot *s, const struct stat *st)
{
	struct hbr_agent_entry *e = &s->e;
	const struct hbr_agent_entry *p;
	const char *first;
	uint64_t t0;

	s->pn = 0;
	if (e->type != 'f')
		return SLOT_READY;
	if (st->st_nlink > 1 &&
	    (first = hl_find_or_add(b, st->st_dev, st->st_ino, e->path.ptr))) {
		e->type = 'h';
		hbr_buf_clear(&e->link);
		(void)hbr_buf_puts(&e->link, first);
		return SLOT_READY;
	}
	b->files++;
	b->bytes += e->size;
	t0 = hbr_time_mono_ns();
	p = b->parent ?
	            hbr_agent_parent_find(b->parent, e->path.ptr, e->path.len) :
	            NULL;
	b->ns_find += hbr_time_mono_ns() - t0;
	if (unchanged(p, e)) {
		reuse(e, p);
		reuse_fps(b, p);
		b->reused++;
		atomic_fetch_add(&b->job->bytes_done, e->size);
		return SLOT_READY;
	}
	if (p && p->type == 'f') {
		/* A changed file mostly holds its old chunks: the vault has
		 * them (the commit verifies), no need to ask. */
		pthread_mutex_lock(&b->known_lock);
		for (size_t i = 0; i < p->n_chunks; i++)
			(void)hbr_idset_add(&b->known, p->chunks[i].id);
		pthread_mutex_unlock(&b->known_lock);
		keep_parent_chunks(b, s, p);
	}
	return SLOT_WORK;
}

static int walk(struct backup *b)
{
	struct hbr_agent_walker *w;
	struct hbr_agent_walk_item item;
	int error = 0;

	hbr_agent_walk_item_init(&item);
	hbr_agent_walker_new(&w, b->roots, b->n_roots, &b->filter,
	                     HBR_AGENT_WALK_XATTRS);
	for (;;) {
		struct hbr_agent_entry tmp;
		struct slot *s;
		uint64_t t0 = hbr_time_mono_ns();
		int state,
		        more = !stopped(b) && hbr_agent_walker_next(w, &item);

		b->ns_walk += hbr_time_mono_ns() - t0;
		if (more <= 0)
			break;

		if (item.error) {
			hbr_agent_job_error_file(b->job, item.e.path.ptr,
			                         item.message);
			continue;
		}
		while (b->tail - b->head >= WINDOW && !stopped(b)) {
			if ((error = drain(b)) < 0)
				goto out;
			if (b->tail - b->head >= WINDOW)
				wait_head(b);
		}
		if (stopped(b))
			break;
		s = &b->slots[b->tail % WINDOW];
		/* Swap, not copy: the slot takes the walked entry and the
		 * item reuses the slot's old buffers. */
		tmp = s->e;
		s->e = item.e;
		item.e = tmp;
		hbr_agent_entry_clear(&item.e);
		b->items++;
		state = classify(b, s, &item.st);
		atomic_store(&s->state, state);
		b->tail++;
		if (state == SLOT_WORK) {
			pthread_mutex_lock(&b->lock);
			b->work[(b->work_head + b->work_n) % WINDOW] =
			        b->tail - 1;
			b->work_n++;
			pthread_cond_signal(&b->work_cv);
			pthread_mutex_unlock(&b->lock);
		}
		if ((error = drain(b)) < 0)
			goto out;
	}
	pthread_mutex_lock(&b->lock);
	b->work_closed = true;
	pthread_cond_broadcast(&b->work_cv);
	pthread_mutex_unlock(&b->lock);
	while (b->head < b->tail && !stopped(b)) {
		if ((error = drain(b)) < 0)
			goto out;
		if (b->head < b->tail)
			wait_head(b);
	}
	if (!stopped(b))
		error = tree_write(b, true);
out:
	hbr_agent_walker_free(w);
	hbr_agent_walk_item_release(&item);
	return error;
}

/* Estimated totals, counted ahead of the real walk so that Progress
 * means something; the commit reports the walk's own counts. */
static void *scanner_main(void *arg)
{
	struct backup *b = arg;
	struct hbr_agent_walker *w;
	struct hbr_agent_walk_item item;

	hbr_agent_walk_item_init(&item);
	hbr_agent_walker_new(&w, b->roots, b->n_roots, &b->filter, 0);
	while (!stopped(b) && hbr_agent_walker_next(w, &item) > 0) {
		if (item.error)
			continue;
		atomic_fetch_add(&b->job->items_total, 1);
		if (item.e.type == 'f')
			atomic_fetch_add(&b->job->bytes_total, item.e.size);
	}
	hbr_agent_walker_free(w);
	hbr_agent_walk_item_release(&item);
	return NULL;
}

/* ---- the job ------------------------------------------------------- */

static int job_strings(const json_t *doc, const char *key, const char **out)
{
	const json_t *v = json_object_get(doc, key);

	*out = json_is_string(v) ? json_string_value(v) : "";
	return 0;
}

static int setup(struct backup *b, bool with_parent)
{
	struct hbr_agent_job *job = b->job;
	const json_t *paths =
	        json_object_get(json_object_get(job->doc, "Paths"), "Path");
	const char *include, *exclude, *speed, *parent;
	const char **list = NULL;
	size_t n = 0, i;
	const json_t *v;
	uint64_t min_rate;
	int error;

	job_strings(job->doc, "Include", &include);
	job_strings(job->doc, "Exclude", &exclude);
	job_strings(job->doc, "SpeedLimit", &speed);
	if ((error = hbr_agent_filter_parse(&b->filter, include, exclude)) <
	            0 ||
	    (error = hbr_agent_speed_parse(&b->speed, speed)) < 0)
		return error;
	list = hbr_calloc(json_array_size(paths) + 1, sizeof(*list));
	json_array_foreach(paths, i, v)
	{
		if (json_is_string(v) && json_string_value(v)[0])
			list[n++] = json_string_value(v);
	}
	error = hbr_agent_roots(&b->roots, &b->n_roots, list, n, &b->filter);
	hbr_free(list);
	if (error < 0)
		return error;
	/* A pack should take seconds at the limit, not minutes. */
	b->pack_target = HBR_PACK_TARGET;
	min_rate = hbr_agent_speed_min(&b->speed);
	if (min_rate && min_rate * 2 < b->pack_target)
		b->pack_target =
		        min_rate * 2 > MIN_PACK ? min_rate * 2 : MIN_PACK;
	job_strings(job->start, "ParentSnapshotId", &parent);
	b->parent_id = with_parent && parent[0] ? parent : NULL;
	return 0;
}

/* The key, and the parent's table when there is a parent. Without
 * them the backup only reads more. */
static void open_fingerprints(struct backup *b, int n_workers)
{
	struct hbr_agent_job *job = b->job;
	char path[HBR_AGENT_FILE_MAX];
	int error;

	if (hbr_agent_fp_key_open(&b->fp_key, job->state_dir) < 0) {
		hbr_log_warn("job %s: no fingerprint key: %s", job->id,
		             hbr_error_msg());
		return;
	}
	b->fp_on = true;
	b->n_fp_lists = 1 + (size_t)n_workers;
	b->fp_lists = hbr_calloc(b->n_fp_lists, sizeof(*b->fp_lists));
	if (!b->parent_id)
		return;
	hbr_agent_fp_path(path, sizeof(path), job->state_dir, b->parent_id);
	error = hbr_agent_fp_table_load(&b->fp_parent, path, &b->fp_key);
	if (error < 0 && error != HBR_ENOTFOUND)
		hbr_log_warn("job %s: parent fingerprints unusable: %s",
		             job->id, hbr_error_msg());
}

static int open_tree(struct backup *b)
{
	struct hbr_agent_job *job = b->job;
	char dir[HBR_AGENT_DIR_MAX], host[256] = "";
	int error;

	(void)snprintf(dir, sizeof(dir), "%s/trees", job->state_dir);
	if ((error = hbr_fs_mkdirs(dir, 0700)) < 0)
		return error;
	(void)snprintf(b->tree_path, sizeof(b->tree_path), "%s/%s.part", dir,
	               job->id);
	hbr_agent_index_begin(&b->index, job->state_dir, job->id);
	b->tree_fd = open(b->tree_path,
	                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (b->tree_fd < 0)
		return hbr_error_set_os(HBR_EIO, "cannot create %s",
		                        b->tree_path);
	if (!job->hostname || !job->hostname[0])
		(void)gethostname(host, sizeof(host) - 1);
	return hbr_agent_tree_header(
	        &b->tree_out, b->roots, b->n_roots,
	        job->hostname && job->hostname[0] ? job->hostname : host,
	        hbr_time_now());
}

/* Chunk and upload the tree file itself, in the job thread. */
static int store_tree(struct backup *b, struct hbr_agent_entry *tree)
{
	struct worker wk;
	uint64_t got = 0;
	int fd, error;

	if ((error = hbr_agent_worker_init(&wk, b)) < 0)
		goto out;
	if ((fd = open(b->tree_path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = hbr_error_set_os(HBR_EIO, "cannot open %s",
		                         b->tree_path);
		goto out;
	}
	error = hbr_agent_worker_feed(&wk, tree, fd, UINT64_MAX, &got);
	close(fd);
	if (!error)
		error = hbr_agent_worker_feed_end(&wk, tree);
	/* The tree's bytes are not the job's. */
	atomic_fetch_sub(&b->job->bytes_done, got);
	if (!error)
		error = hbr_agent_worker_flush(&wk);
out:
	hbr_agent_worker_release(&wk);
	if (error < 0 && !stopped(b))
		(void)hbr_agent_job_fail(b->job, error, "tree");
	return error;
}

/* CommitAgentSnapshot; HBR_ENOTFOUND when the server lacks a chunk the
 * tree names (the caller retries without the parent). */
static int commit(struct backup *b, const struct hbr_agent_entry *tree,
                  char *snapshot_id, size_t size)
{
	struct hbr_agent_job *job = b->job;
	struct hbr_kvlist p = HBR_KVLIST_INIT;
	struct hbr_buf list = HBR_BUF_INIT;
	json_t *ans = NULL;
	char *errors = hbr_agent_job_error_files_json(job);
	const char *sid;
	int error;

	for (size_t i = 0; i < tree->n_chunks; i++) {
		char hex[HBR_CHUNK_HEX_LEN];

		hbr_chunk_id_hex(hex, tree->chunks[i].id);
		if (i)
			(void)hbr_buf_putc(&list, ',');
		(void)hbr_buf_puts(&list, hex);
	}
	hbr_agent_param(&p, "JobId", job->id);
	hbr_agent_param(&p, "TreeChunks", hbr_buf_cstr(&list));
	hbr_agent_param(&p, "Status",
	                job->n_errors ? "PARTIAL_COMPLETE" : "COMPLETE");
	hbr_agent_param_u64(&p, "BytesTotal", b->bytes);
	hbr_agent_param_u64(&p, "BytesDone", atomic_load(&job->bytes_done));
	hbr_agent_param_u64(&p, "ItemsTotal", b->items);
	hbr_agent_param_u64(&p, "ItemsDone", atomic_load(&job->items_done));
	hbr_agent_param_u64(&p, "ActualBytes", atomic_load(&job->stored_bytes));
	hbr_agent_param(&p, "ErrorFiles", errors);
	error = hbr_agent_job_call(&ans, job, &b->conn, "CommitAgentSnapshot",
	                           &p);
	if (error == HBR_ENOTFOUND) {
		hbr_log_warn("job %s: the commit refused: %s", job->id,
		             hbr_error_msg());
		goto out;
	}
	if (error < 0) {
		(void)hbr_agent_job_fail(job, error, "CommitAgentSnapshot");
		goto out;
	}
	sid = json_string_value(json_object_get(ans, "SnapshotId"));
	if (!sid || !sid[0] || strlen(sid) >= size || strchr(sid, '/')) {
		error = hbr_agent_job_fail(
		        job,
		        hbr_error_set(HBR_EIO, "the commit answered no"
		                               " SnapshotId"),
		        "CommitAgentSnapshot");
		goto out;
	}
	(void)snprintf(snapshot_id, size, "%s", sid);
out:
	free(errors); /* jansson's allocation */
	json_decref(ans);
	hbr_buf_release(&list);
	hbr_kvlist_release(&p);
	return error;
}

/* A snapshot's cached tree, index and fingerprints. */
static void drop_cache(const char *state_dir, const char *snapshot_id)
{
	char path[HBR_AGENT_FILE_MAX];

	hbr_agent_tree_cache_path(path, sizeof(path), state_dir, snapshot_id);
	(void)unlink(path);
	hbr_agent_fp_path(path, sizeof(path), state_dir, snapshot_id);
	(void)unlink(path);
	hbr_agent_index_path(path, sizeof(path), state_dir, snapshot_id);
	(void)unlink(path);
}

/* Keep the committed tree as the next backup's parent; the old parent's
 * copy is not needed any more. */
static void cache_tree(struct backup *b, const char *snapshot_id)
{
	char path[HBR_AGENT_FILE_MAX];

	hbr_agent_tree_cache_path(path, sizeof(path), b->job->state_dir,
	                          snapshot_id);
	if (fsync(b->tree_fd) < 0 || rename(b->tree_path, path) < 0) {
		hbr_log_warn("job %s: cannot keep the tree in %s: %s",
		             b->job->id, path, strerror(errno));
		return;
	}
	b->tree_path[0] = '\0';
	if (hbr_agent_index_finish(&b->index, b->job->state_dir, snapshot_id) <
	    0)
		hbr_log_warn("job %s: cannot keep the parent index: %s",
		             b->job->id, hbr_error_msg());
	if (b->fp_on) {
		hbr_agent_fp_path(path, sizeof(path), b->job->state_dir,
		                  snapshot_id);
		if (hbr_agent_fp_write(path, b->fp_lists, b->n_fp_lists,
		                       &b->fp_key) < 0)
			hbr_log_warn("job %s: cannot keep the fingerprints: %s",
			             b->job->id, hbr_error_msg());
	}
	if (b->parent_id && strcmp(b->parent_id, snapshot_id))
		drop_cache(b->job->state_dir, b->parent_id);
}

static void teardown(struct backup *b)
{
	if (b->scanning)
		pthread_join(b->scanner, NULL);
	b->scanning = false;
	if (b->workers) {
		pthread_mutex_lock(&b->lock);
		b->work_closed = true;
		pthread_cond_broadcast(&b->work_cv);
		pthread_mutex_unlock(&b->lock);
		for (int i = 0; i < b->n_workers; i++) {
			if (b->workers[i].running)
				pthread_join(b->workers[i].thread, NULL);
			hbr_agent_worker_release(&b->workers[i]);
		}
		hbr_free(b->workers);
	}
	hbr_agent_uploader_free(b->up);
	hbr_agent_parent_free(b->parent);
	for (uint32_t i = 0; b->slots && i < WINDOW; i++) {
		hbr_agent_entry_release(&b->slots[i].e);
		hbr_free(b->slots[i].pc);
	}
	for (size_t i = 0; i < b->n_fp_lists; i++)
		hbr_agent_fp_list_release(&b->fp_lists[i]);
	hbr_free(b->fp_lists);
	hbr_agent_fp_table_free(&b->fp_parent);
	hbr_free(b->slots);
	hbr_free(b->work);
	if (b->tree_fd >= 0)
		close(b->tree_fd);
	if (b->tree_path[0])
		(void)unlink(b->tree_path);
	hbr_agent_index_abort(&b->index);
	hbr_buf_release(&b->tree_out);
	hl_free(b);
	hbr_idset_free(&b->known);
	hbr_agent_roots_free(b->roots, b->n_roots);
	hbr_agent_filter_release(&b->filter);
	hbr_agent_conn_release(&b->conn);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->known_lock);
	pthread_cond_destroy(&b->work_cv);
	pthread_cond_destroy(&b->done_cv);
}

static void reset_counters(struct hbr_agent_job *job)
{
	atomic_store(&job->bytes_total, 0);
	atomic_store(&job->bytes_done, 0);
	atomic_store(&job->items_total, 0);
	atomic_store(&job->items_done, 0);
	atomic_store(&job->stored_bytes, 0);
	pthread_mutex_lock(&job->lock);
	for (size_t i = 0; i < job->n_error_files; i++)
		hbr_free(job->error_files[i]);
	job->n_error_files = job->n_errors = 0;
	pthread_mutex_unlock(&job->lock);
}

/* One attempt; HBR_ENOTFOUND: the commit lacked a chunk. */
static int attempt(struct hbr_agent_job *job, bool with_parent)
{
	struct backup b;
	struct hbr_agent_entry tree;
	char snapshot_id[128];
	uint64_t t0 = hbr_time_mono_ns(), packs = 0, sent = 0, fresh = 0;
	/* MaxCpuCore bounds the threads that compute: a worker hashes and
	 * its packer compresses, so a limit of N gets N/2 workers with
	 * packers, and 1 gets one worker that packs its own stages. No
	 * limit: a worker and a packer per core, which overlaps the
	 * server's round trips best (measured). */
	int n_workers = job->max_cpu == 0 ? job->cores :
	                job->max_cpu == 1 ? 1 :
	                                    job->max_cpu / 2;
	double secs;
	int error;

	memset(&b, 0, sizeof(b));
	b.job = job;
	b.inline_pack = job->max_cpu == 1;
	b.tree_fd = -1;
	b.index.fd = -1;
	hbr_agent_entry_init(&tree);
	hbr_buf_init(&b.tree_out, 0);
	hbr_idset_init(&b.known);
	pthread_mutex_init(&b.lock, NULL);
	pthread_mutex_init(&b.known_lock, NULL);
	pthread_cond_init(&b.work_cv, NULL);
	pthread_cond_init(&b.done_cv, NULL);
	reset_counters(job);
	if ((error = hbr_agent_conn_init(&b.conn, job->key)) < 0 ||
	    (!job->progress_running &&
	     (error = hbr_agent_job_start_progress(job)) < 0) ||
	    (error = setup(&b, with_parent)) < 0) {
		(void)hbr_agent_job_fail(job, error, "job");
		goto out;
	}
	hbr_log_info("job %s: backup of %zu path(s) with %d worker(s), %s%s",
	             job->id, b.n_roots, n_workers,
	             b.parent_id ? "incremental from " : "full",
	             b.parent_id ? b.parent_id : "");
	if (b.parent_id) {
		const json_t *ptree =
		        json_object_get(job->start, "ParentTreeChunks");

		uint64_t tp = hbr_time_mono_ns();

		error = hbr_agent_parent_open(&b.parent, job, &b.conn,
		                              b.parent_id, ptree, &b.known);
		hbr_log_debug("job %s: parent tree opened in %.2f s", job->id,
		              (double)(hbr_time_mono_ns() - tp) / 1e9);
		if (error < 0 && stopped(&b))
			goto out;
		if (error < 0) {
			/* Without the parent the backup only reads more. */
			hbr_log_warn("job %s: parent %s unusable (%s): full"
			             " backup",
			             job->id, b.parent_id, hbr_error_msg());
			hbr_idset_free(&b.known);
			hbr_idset_init(&b.known);
			b.parent_id = NULL;
		}
	}
	open_fingerprints(&b, n_workers);
	if ((error = open_tree(&b)) < 0) {
		(void)hbr_agent_job_fail(job, error, "tree");
		goto out;
	}
	if (pthread_create(&b.scanner, NULL, scanner_main, &b) == 0)
		b.scanning = true;
	b.slots = hbr_calloc(WINDOW, sizeof(*b.slots));
	for (uint32_t i = 0; i < WINDOW; i++)
		hbr_agent_entry_init(&b.slots[i].e);
	b.work = hbr_calloc(WINDOW, sizeof(*b.work));
	if ((error = hbr_agent_uploader_start(
	             &b.up, job, b.speed.limited ? 1 : UPLOADERS, UPLOAD_QUEUE,
	             &b.speed, &b.present_pct)) < 0) {
		(void)hbr_agent_job_fail(job, error, "uploader");
		goto out;
	}
	b.workers = hbr_calloc((size_t)n_workers, sizeof(*b.workers));
	for (int i = 0; i < n_workers; i++) {
		struct worker *wk = &b.workers[i];

		b.n_workers++;
		if ((error = hbr_agent_worker_init(wk, &b)) < 0 ||
		    (pthread_create(&wk->thread, NULL, hbr_agent_worker_main,
		                    wk) &&
		     (error = hbr_error_set(HBR_ERROR,
		                            "cannot start a thread")) < 0)) {
			(void)hbr_agent_job_fail(job, error, "worker");
			goto out;
		}
		wk->running = true;
	}
	error = walk(&b);
	hbr_log_debug("job %s: walk done at %.2f s: %.2f s listing, %.2f s"
	              " matching the parent, %.2f s writing the tree",
	              job->id, (double)(hbr_time_mono_ns() - t0) / 1e9,
	              (double)b.ns_walk / 1e9, (double)b.ns_find / 1e9,
	              (double)b.ns_encode / 1e9);
	if (error < 0 || stopped(&b))
		goto out;
	/* Joined and freed now: the tree's own worker below reuses their
	 * packs, and the peak memory is not both at once. */
	for (int i = 0; i < b.n_workers; i++) {
		pthread_join(b.workers[i].thread, NULL);
		atomic_fetch_add(&b.ns_check_rpc, b.workers[i].pp.check.ns);
		/* The fingerprints outlive the worker. */
		if (b.fp_lists) {
			b.fp_lists[1 + i] = b.workers[i].fps;
			memset(&b.workers[i].fps, 0, sizeof(b.workers[i].fps));
		}
		hbr_agent_worker_release(&b.workers[i]);
	}
	hbr_free(b.workers);
	b.workers = NULL;
	b.n_workers = 0;
	if (b.scanning)
		pthread_join(b.scanner, NULL);
	b.scanning = false;
	hbr_log_debug("job %s: workers done at %.2f s", job->id,
	              (double)(hbr_time_mono_ns() - t0) / 1e9);
	atomic_store(&job->bytes_total, b.bytes);
	atomic_store(&job->items_total, b.items);
	if (stopped(&b) || (error = store_tree(&b, &tree)) < 0 ||
	    (error = hbr_agent_uploader_finish(b.up)) < 0)
		goto out;
	hbr_agent_uploader_stats(b.up, &packs, &sent, &fresh);
	/* No report may race the commit: one after it would be refused
	 * (the job is no longer RUNNING) and read as a cancel. */
	hbr_agent_job_stop_progress(job);
	hbr_log_debug("job %s: tree stored at %.2f s", job->id,
	              (double)(hbr_time_mono_ns() - t0) / 1e9);
	error = commit(&b, &tree, snapshot_id, sizeof(snapshot_id));
	hbr_log_debug("job %s: committed at %.2f s", job->id,
	              (double)(hbr_time_mono_ns() - t0) / 1e9);
	if (error < 0)
		goto out;
	cache_tree(&b, snapshot_id);
	secs = (double)(hbr_time_mono_ns() - t0) / 1e9;
	hbr_log_debug("job %s: %" PRIu64 " chunks (%.1f MiB) of changed files"
	              " matched their parent's by fingerprint",
	              job->id, (uint64_t)atomic_load(&b.fp_matched),
	              (double)atomic_load(&b.fp_matched_bytes) / 1048576.0);
	hbr_log_debug("job %s: %" PRIu64 " checks, %.2f s of round trips",
	              job->id, (uint64_t)atomic_load(&b.n_checks),
	              (double)atomic_load(&b.ns_check_rpc) / 1e9);
	hbr_log_debug("job %s: packers waited %.2f s for checks; workers"
	              " waited %.2f s for packers, %.2f s for the upload"
	              " queue, %.2f s for files",
	              job->id, (double)atomic_load(&b.ns_check) / 1e9,
	              (double)atomic_load(&b.ns_check_wait) / 1e9,
	              (double)atomic_load(&b.ns_put) / 1e9,
	              (double)atomic_load(&b.ns_wait_work) / 1e9);
	hbr_log_info(
	        "job %s: snapshot %s %s: %" PRIu64 " files (%" PRIu64
	        " unchanged), %.1f MiB in %.2f s (%.0f MB/s); sent %" PRIu64
	        " packs, %.1f MiB, %" PRIu64 " new chunks; %zu error"
	        " file(s)",
	        job->id, snapshot_id,
	        job->n_errors ? "PARTIAL_COMPLETE" : "COMPLETE", b.files,
	        b.reused, (double)b.bytes / 1048576.0, secs,
	        (double)b.bytes / 1e6 / (secs > 0 ? secs : 1), packs,
	        (double)sent / 1048576.0, fresh, job->n_errors);
out:
	if (error < 0 && !stopped(&b) && error != HBR_ENOTFOUND)
		(void)hbr_agent_job_fail(job, error, "backup");
	teardown(&b);
	hbr_agent_entry_release(&tree);
	return error;
}

int hbr_agent_backup_run(struct hbr_agent_job *job)
{
	struct hbr_agent_conn conn;
	int error = attempt(job, true);

	if (error == HBR_ENOTFOUND && !hbr_agent_job_stopped(job)) {
		const char *parent = json_string_value(
		        json_object_get(job->start, "ParentSnapshotId"));

		/* The parent named chunks the vault no longer has (or never
		 * had): read everything and check every chunk. Its cache is
		 * what named them, and the rerun commits without a parent,
		 * so nothing else would ever remove it. */
		hbr_log_warn("job %s: backing up again without the parent",
		             job->id);
		if (parent && parent[0] && !strchr(parent, '/'))
			drop_cache(job->state_dir, parent);
		error = attempt(job, false);
		if (error == HBR_ENOTFOUND)
			(void)hbr_agent_job_fail(job, error,
			                         "CommitAgentSnapshot");
	}
	hbr_agent_job_stop_progress(job);
	if (error < 0 && hbr_agent_job_why(job) == HBR_AGENT_FAILED &&
	    hbr_agent_conn_init(&conn, job->key) == 0) {
		(void)hbr_agent_job_finish(job, &conn, "FAILED", job->reason);
		hbr_agent_conn_release(&conn);
	}
	return error;
}
