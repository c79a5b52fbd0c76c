/* Backup workers: read, chunk, hash, stage, check, compress, pack
 * (agent_pipeline.h). */
#include "common.h"
#include "agent/agent_pipeline.h"

/* ---- the worker's pack: stage, check, compress, upload ------------ */

static int send_pack(struct packer *pp)
{
	struct backup *b = pp->b;
	uint64_t t0 = hbr_time_mono_ns();
	int error;

	error = hbr_agent_uploader_put(b->up, pp->pk);
	atomic_fetch_add(&b->ns_put, hbr_time_mono_ns() - t0);
	if (!(pp->pk = hbr_agent_uploader_pack(b->up)) && !error)
		error = hbr_agent_job_fail(b->job, HBR_ERROR, "pack");
	return error;
}

static bool pack_full(const struct backup *b, const struct hbr_pack_writer *w)
{
	return w->count >= PACK_CHUNKS ||
	       hbr_pack_writer_size(w) >= b->pack_target;
}

/* Ask the server, in the background, which of the stage's chunks it
 * lacks. */
static void check_start(struct packer *pp, const struct stage *st)
{
	struct hbr_kvlist p = HBR_KVLIST_INIT;

	hbr_buf_clear(&pp->list);
	for (size_t i = 0; i < st->n; i++) {
		char hex[HBR_CHUNK_HEX_LEN];

		hbr_chunk_id_hex(hex, st->c[i].id);
		if (i)
			(void)hbr_buf_putc(&pp->list, ',');
		(void)hbr_buf_put(&pp->list, hex, 64);
	}
	hbr_agent_param(&p, "JobId", pp->b->job->id);
	hbr_agent_param(&p, "ChunkIds", pp->list.ptr);
	hbr_agent_async_start(&pp->check, "CheckAgentChunks", &p);
}

/* The answer into pp->keep; *present: how many the server has. */
static int check_wait(struct packer *pp, const struct stage *st,
                      size_t *present)
{
	struct backup *b = pp->b;
	json_t *ans = NULL, *v;
	size_t i, missing = 0;
	uint64_t t0 = hbr_time_mono_ns();
	int error;

	atomic_fetch_add(&b->n_checks, 1);
	hbr_grow((void **)&pp->keep, &pp->cap_keep, st->n, sizeof(*pp->keep));
	memset(pp->keep, 0, st->n * sizeof(*pp->keep));
	error = hbr_agent_async_wait(&pp->check, &ans);
	atomic_fetch_add(&b->ns_check, hbr_time_mono_ns() - t0);
	json_array_foreach(json_object_get(ans, "Missing"), i, v)
	{
		json_int_t k = json_integer_value(v);

		if (error == 0 &&
		    (!json_is_integer(v) || k < 0 || (uint64_t)k >= st->n))
			error = hbr_error_set(HBR_EIO,
			                      "Missing holds what is not an"
			                      " index below %zu",
			                      st->n);
		else if (error == 0 && !pp->keep[k]) {
			pp->keep[k] = true;
			missing++;
		}
	}
	json_decref(ans);
	if (error < 0)
		return stopped(b) ? error :
		                    hbr_agent_job_fail(b->job, error,
		                                       "CheckAgentChunks");
	*present = st->n - missing;
	return 0;
}

/*
 * Pack a stage. While the server has lacked nearly everything checked
 * lately (a new backup), chunks are compressed straight away and checked
 * when their pack is queued, in the background (agent_upload.h); the ones
 * the server has are dropped before the pack leaves. Otherwise (the same
 * files on many machines) the stage is checked first, so that nothing is
 * compressed in vain. Either way no chunk leaves unchecked.
 */
static int pack_stage(struct packer *pp, const struct stage *st)
{
	struct backup *b = pp->b;
	bool speculate = atomic_load(&b->present_pct) < 25;
	size_t present = 0;
	int error = 0;

	if (!speculate) {
		check_start(pp, st);
		if ((error = check_wait(pp, st, &present)) < 0)
			return error;
		atomic_store(&b->present_pct, (int)(present * 100 / st->n));
	}
	for (size_t i = 0; i < st->n && !error; i++) {
		const struct staged *c = &st->c[i];

		if (!speculate && !pp->keep[i])
			continue;
		if ((error = hbr_agent_pack_add(pp->pk, c->id, st->buf + c->off,
		                                c->len, HBR_AGENT_ZSTD_LEVEL,
		                                !speculate)) < 0) {
			error = hbr_agent_job_fail(b->job, error, "pack");
			break;
		}
		if (pack_full(b, &pp->pk->w))
			error = send_pack(pp);
		if (!error && stopped(b))
			error = HBR_ECONFLICT;
	}
	return error;
}

static void *packer_main(void *arg)
{
	struct packer *pp = arg;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		struct stage *st;
		int error;

		while ((!pp->req || pp->done) && !pp->quit)
			pthread_cond_wait(&pp->cv, &pp->lock);
		if (pp->quit)
			break;
		st = pp->req;
		pthread_mutex_unlock(&pp->lock);
		error = stopped(pp->b) ? HBR_ECONFLICT : pack_stage(pp, st);
		pthread_mutex_lock(&pp->lock);
		pp->error = error;
		pp->done = true;
		pthread_cond_broadcast(&pp->cv);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* Hand the stage being filled to the packer; fill the other one. */
static void stage_hand_off(struct worker *wk)
{
	struct packer *pp = &wk->pp;
	struct stage *st = &wk->stages[wk->cur];

	HBR_ASSERT(!wk->pending);
	if (!st->n)
		return;
	if (!pp->running) {
		/* No packer thread: pack it here and now. */
		pp->req = st;
		pp->error = stopped(pp->b) ? HBR_ECONFLICT : pack_stage(pp, st);
		pp->done = true;
		wk->pending = true;
		wk->cur ^= 1;
		return;
	}
	pthread_mutex_lock(&pp->lock);
	pp->req = st;
	pp->done = false;
	pthread_cond_broadcast(&pp->cv);
	pthread_mutex_unlock(&pp->lock);
	wk->pending = true;
	wk->cur ^= 1;
}

/* Wait until the packer is done with the stage handed to it. */
static int stage_reclaim(struct worker *wk)
{
	struct backup *b = wk->b;
	struct packer *pp = &wk->pp;
	uint64_t t0;
	int error;

	if (!wk->pending)
		return 0;
	t0 = hbr_time_mono_ns();
	pthread_mutex_lock(&pp->lock);
	while (!pp->done)
		pthread_cond_wait(&pp->cv, &pp->lock);
	atomic_fetch_add(&b->ns_check_wait, hbr_time_mono_ns() - t0);
	pp->req->n = 0;
	pp->req = NULL;
	pp->done = false;
	error = pp->error;
	pthread_mutex_unlock(&pp->lock);
	wk->pending = false;
	return error;
}

/* The end of the worker's input: pack everything staged, send the
 * last pack. */
int hbr_agent_worker_flush(struct worker *wk)
{
	int error;

	if (stopped(wk->b))
		return HBR_ECONFLICT;
	if ((error = stage_reclaim(wk)) < 0)
		return error;
	stage_hand_off(wk);
	if ((error = stage_reclaim(wk)) < 0)
		return error;
	/* The packer is idle: its pack may be touched from here. */
	if (wk->pp.pk->w.count)
		return send_pack(&wk->pp);
	return 0;
}

/* ---- the parent's chunks of a changed file (agent_fp.h) ------------ */

static size_t fc_slot(const struct fp_cursor *fc, const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h)); /* SHA-256 bytes are uniform */
	return (size_t)h & (fc->map_cap - 1);
}

/* The index of the parent chunk with this id, or SIZE_MAX. */
static size_t fc_find(const struct fp_cursor *fc, const uint8_t *id)
{
	for (size_t i = fc_slot(fc, id);; i = (i + 1) & (fc->map_cap - 1)) {
		uint32_t v = fc->map[i];

		if (!v)
			return SIZE_MAX;
		if (!memcmp(fc->pc[v - 1].id, id, HBR_CHUNK_ID_LEN))
			return v - 1;
	}
}

/* Start reading a file: fingerprint its chunks if it is big, and walk
 * its parent's chunks if the walk found them. */
static void fc_begin(struct worker *wk, const struct slot *s, uint64_t size,
                     bool sparse)
{
	struct backup *b = wk->b;
	struct fp_cursor *fc = &wk->fc;
	uint64_t off = 0;
	size_t cap = 16;

	fc->record = b->fp_on && !sparse && size >= HBR_AGENT_FP_MIN_FILE;
	fc->pn = fc->pi = 0;
	fc->aligned = false;
	fc->foff = 0;
	fc->fsize = size;
	if (!fc->record || !s->pn || !b->fp_parent.n)
		return;
	fc->pc = s->pc;
	fc->pn = s->pn;
	hbr_grow((void **)&fc->poff, &fc->poff_cap, fc->pn, sizeof(*fc->poff));
	for (size_t i = 0; i < fc->pn; i++) {
		fc->poff[i] = off;
		off += fc->pc[i].len;
	}
	while (cap < 2 * fc->pn)
		cap *= 2;
	if (cap > fc->map_cap) {
		hbr_free(fc->map);
		fc->map = hbr_malloc(cap * sizeof(*fc->map));
	}
	fc->map_cap = cap;
	memset(fc->map, 0, cap * sizeof(*fc->map));
	for (size_t i = 0; i < fc->pn; i++) {
		size_t k = fc_slot(fc, fc->pc[i].id);

		while (fc->map[k])
			k = (k + 1) & (cap - 1);
		fc->map[k] = (uint32_t)(i + 1);
	}
	fc->aligned = true;
}

/* The chunker cut a chunk of len bytes with this id: does the next one
 * begin where a parent chunk began? By offset after a change that kept
 * the size, by id after one that moved what follows. A wrong guess costs
 * one fingerprint. */
static void fc_cut(struct fp_cursor *fc, const uint8_t *id, size_t len)
{
	size_t j;

	fc->foff += len;
	if (!fc->pn)
		return;
	while (fc->pi < fc->pn && fc->poff[fc->pi] < fc->foff)
		fc->pi++;
	if (fc->pi < fc->pn && fc->poff[fc->pi] == fc->foff) {
		fc->aligned = true;
		return;
	}
	j = fc_find(fc, id);
	if (j != SIZE_MAX && j + 1 < fc->pn) {
		fc->pi = j + 1;
		fc->aligned = true;
	}
}

/*
 * The open chunk starts where parent chunk pi did: if the file holds
 * that chunk's bytes there, it is that chunk (the chunker would cut it
 * at the same place, see agent_fp.h), taken without scanning or
 * hashing. 1: taken; 0: more bytes are needed to tell; -1: it is not.
 */
static int fc_try(struct worker *wk, struct hbr_agent_entry *e, bool eof)
{
	struct backup *b = wk->b;
	struct fp_cursor *fc = &wk->fc;
	const struct hbr_agent_chunkref *c = &fc->pc[fc->pi];
	const uint8_t *data = wk->stages[wk->cur].buf + wk->start, *want;
	uint8_t fp[HBR_AGENT_FP_LEN];

	/* The parent's last chunk ended with the file, not by its bytes. */
	if (fc->pi + 1 == fc->pn && fc->foff + c->len != fc->fsize)
		goto miss;
	if (wk->end - wk->start < c->len) {
		if (!eof)
			return 0;
		goto miss;
	}
	if (!(want = hbr_agent_fp_table_find(&b->fp_parent, c->id)))
		goto miss;
	hbr_agent_fp_of(fp, &b->fp_key, data, c->len);
	if (memcmp(fp, want, HBR_AGENT_FP_LEN))
		goto miss;
	hbr_agent_entry_add_chunk(e, c->id, c->len);
	hbr_agent_fp_list_add(&wk->fps, c->id, fp);
	atomic_fetch_add(&b->job->bytes_done, c->len);
	atomic_fetch_add(&b->fp_matched, 1);
	atomic_fetch_add(&b->fp_matched_bytes, c->len);
	wk->start += c->len;
	wk->scan = wk->start;
	fc->foff += c->len;
	if (++fc->pi == fc->pn)
		fc->aligned = false;
	return 1;
miss:
	fc->aligned = false;
	return -1;
}

/* A new chunk for the vault, unless the job already has it: noted in
 * the stage its bytes lie in. */
static int chunk_done(struct worker *wk, struct hbr_agent_entry *e,
                      const uint8_t *data, size_t len)
{
	struct backup *b = wk->b;
	struct stage *st = &wk->stages[wk->cur];
	uint8_t id[HBR_CHUNK_ID_LEN];
	struct staged *c;
	int error, fresh;

	if ((error = hbr_chunk_id(id, data, len)) < 0)
		return error;
	hbr_agent_entry_add_chunk(e, id, (uint32_t)len);
	atomic_fetch_add(&b->job->bytes_done, len);
	if (wk->fc.record) {
		uint8_t fp[HBR_AGENT_FP_LEN];

		hbr_agent_fp_of(fp, &b->fp_key, data, len);
		hbr_agent_fp_list_add(&wk->fps, id, fp);
		fc_cut(&wk->fc, id, len);
	}
	pthread_mutex_lock(&b->known_lock);
	fresh = hbr_idset_add(&b->known, id);
	pthread_mutex_unlock(&b->known_lock);
	if (fresh <= 0)
		return fresh;
	HBR_ASSERT(data >= st->buf && data + len <= st->buf + STAGE_BUF);
	hbr_grow((void **)&st->c, &st->cap, st->n + 1, sizeof(*st->c));
	c = &st->c[st->n++];
	memcpy(c->id, id, HBR_CHUNK_ID_LEN);
	c->off = (size_t)(data - st->buf);
	c->len = (uint32_t)len;
	return 0;
}

/*
 * The stage is full: its new chunks go to the packer and reading goes
 * on in the other buffer (free once its own answer has been taken),
 * the open chunk moved along. Without new chunks the buffer is simply
 * reused.
 */
static int rotate(struct worker *wk)
{
	struct stage *st = &wk->stages[wk->cur];
	size_t open = wk->end - wk->start;
	int error;

	if (stopped(wk->b))
		return HBR_ECONFLICT;
	if (st->n) {
		if ((error = stage_reclaim(wk)) < 0)
			return error;
		memcpy(wk->stages[wk->cur ^ 1].buf, st->buf + wk->start, open);
		stage_hand_off(wk);
	} else {
		memmove(st->buf, st->buf + wk->start, open);
	}
	wk->scan -= wk->start;
	wk->end = open;
	wk->start = 0;
	return 0;
}

/* ---- reading and chunking a file ----------------------------------- */

/* Cut the chunks that end in what was read and not scanned yet. eof: no
 * more bytes will come for the open chunk. */
static int scan(struct worker *wk, struct hbr_agent_entry *e, bool eof)
{
	struct stage *st = &wk->stages[wk->cur];
	int error;

	while (wk->scan < wk->end) {
		size_t k;

		if (wk->fc.aligned && wk->scan == wk->start) {
			int r = fc_try(wk, e, eof);

			if (r > 0)
				continue;
			if (r == 0)
				break;
		}
		k = hbr_chunker_next(&wk->ch, st->buf + wk->scan,
		                     wk->end - wk->scan, false);
		if (!k) {
			wk->scan = wk->end;
			break;
		}
		wk->scan += k;
		if ((error = chunk_done(wk, e, st->buf + wk->start,
		                        wk->scan - wk->start)) < 0)
			return error;
		wk->start = wk->scan;
	}
	return 0;
}

/* Read up to limit bytes of fd (to EOF when UINT64_MAX) through the
 * chunker; chunks that end are handed on. *got counts what was read.
 * HBR_EIO for a read error (the file is skipped); other errors stop the
 * job. */
int hbr_agent_worker_feed(struct worker *wk, struct hbr_agent_entry *e, int fd,
                          uint64_t limit, uint64_t *got)
{
	int error;

	while (limit) {
		struct stage *st = &wk->stages[wk->cur];
		size_t want;
		ssize_t n;

		/* Nothing staged and nothing open: read into the front
		 * again, where the buffer is still in the cache. */
		if (!st->n && wk->start == wk->end)
			wk->start = wk->scan = wk->end = 0;
		/* One read adds at most READ_SIZE / min + 1 chunks. */
		if (STAGE_BUF - wk->end < READ_SIZE ||
		    st->n + READ_SIZE / HBR_CHUNKER_DEFAULT_MIN + 1 >=
		            CHECK_MAX) {
			if ((error = rotate(wk)) < 0)
				return error;
			st = &wk->stages[wk->cur];
		}
		want = READ_SIZE < limit ? READ_SIZE : (size_t)limit;
		n = read(fd, st->buf + wk->end, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hbr_error_set_os(HBR_EIO, "read");
		if (n == 0)
			break;
		wk->end += (size_t)n;
		*got += (uint64_t)n;
		if (limit != UINT64_MAX)
			limit -= (uint64_t)n;
		if ((error = scan(wk, e, false)) < 0)
			return error;
		if (stopped(wk->b))
			return HBR_ECONFLICT;
	}
	return 0;
}

/* The end of a stream: the open chunk is the last one. The next file's
 * data follows in the same stage. */
int hbr_agent_worker_feed_end(struct worker *wk, struct hbr_agent_entry *e)
{
	int error = scan(wk, e, true);

	if (!error && wk->end > wk->start)
		error = chunk_done(wk, e, wk->stages[wk->cur].buf + wk->start,
		                   wk->end - wk->start);
	wk->start = wk->scan = wk->end;
	hbr_chunker_reset(&wk->ch);
	wk->fc.aligned = false;
	wk->fc.record = false;
	return error;
}

/* A stream abandoned half-way: its open chunk is dropped. */
static void feed_abort(struct worker *wk)
{
	wk->end = wk->scan = wk->start;
	hbr_chunker_reset(&wk->ch);
	wk->fc.aligned = false;
	wk->fc.record = false;
}

/* The data extents of a file with holes (SEEK_DATA/SEEK_HOLE); false
 * when it has none worth recording. */
static bool find_extents(struct hbr_agent_entry *e, int fd, off_t size)
{
	off_t pos = 0;

	e->n_ext = 0;
	while (pos < size) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;

		if (data < 0)
			break; /* ENXIO: only a hole is left */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || hole <= data || e->n_ext >= MAX_EXTENTS) {
			e->n_ext = 0;
			return false;
		}
		if (hole > size)
			hole = size;
		hbr_agent_entry_add_extent(e, (uint64_t)data,
		                           (uint64_t)(hole - data));
		pos = hole;
	}
	if (e->n_ext == 1 && e->ext[0].off == 0 &&
	    e->ext[0].len == (uint64_t)size) {
		e->n_ext = 0;
		return false;
	}
	return true;
}

/* Read one file into its entry's chunk list. HBR_EIO: the file is
 * skipped (listed in ErrorFiles); other errors stop the job. */
static int read_file(struct worker *wk, struct slot *s)
{
	struct hbr_agent_entry *e = &s->e;
	struct backup *b = wk->b;
	struct stat st;
	uint64_t got = 0;
	int fd, error = 0;

	fd = open(e->path.ptr,
	          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
		fd = open(e->path.ptr,
		          O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return hbr_error_set_os(HBR_EIO, "open");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error = hbr_error_set(HBR_EIO, "no longer a regular file");
		goto out;
	}
	/* What is read is what the entry describes. */
	e->mode = st.st_mode & 07777;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->mtime_ns = ns(st.st_mtim);
	e->ctime_ns = ns(st.st_ctim);
	e->ino = st.st_ino;
	e->size = (uint64_t)st.st_size;
	e->n_chunks = 0;
	e->sparse = (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size &&
	            find_extents(e, fd, st.st_size);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	fc_begin(wk, s, e->size, e->sparse);
	if (e->sparse) {
		for (size_t i = 0; i < e->n_ext && !error; i++) {
			uint64_t before = got;

			if (lseek(fd, (off_t)e->ext[i].off, SEEK_SET) < 0) {
				error = hbr_error_set_os(HBR_EIO, "lseek");
				break;
			}
			error = hbr_agent_worker_feed(wk, e, fd, e->ext[i].len,
			                              &got);
			/* A file that shrank meanwhile: keep what is there. */
			if (!error && got - before < e->ext[i].len) {
				e->ext[i].len = got - before;
				e->n_ext = i + 1;
			}
		}
	} else {
		error = hbr_agent_worker_feed(wk, e, fd, UINT64_MAX, &got);
		e->size = got;
	}
	if (!error)
		error = hbr_agent_worker_feed_end(wk, e);
	else
		feed_abort(wk);
	if (!error && e->size > got) /* holes count as done */
		atomic_fetch_add(&b->job->bytes_done, e->size - got);
out:
	close(fd);
	return error;
}

/* ---- workers ------------------------------------------------------- */

int hbr_agent_worker_init(struct worker *wk, struct backup *b)
{
	struct hbr_chunker_params cp;
	struct packer *pp = &wk->pp;
	int error;

	memset(wk, 0, sizeof(*wk));
	wk->b = b;
	pp->b = b;
	hbr_chunker_params_default(&cp);
	for (int i = 0; i < 2; i++)
		wk->stages[i].buf = hbr_malloc(STAGE_BUF);
	hbr_buf_init(&pp->list, 0);
	pthread_mutex_init(&pp->lock, NULL);
	pthread_cond_init(&pp->cv, NULL);
	if ((error = hbr_chunker_init(&wk->ch, &cp)) < 0 ||
	    (error = hbr_agent_async_init(&pp->check, b->job)) < 0)
		return error;
	if (!(pp->pk = hbr_agent_uploader_pack(b->up)))
		return hbr_error_set(HBR_ERROR, "cannot make a pack");
	if (b->inline_pack)
		return 0;
	if (pthread_create(&pp->thread, NULL, packer_main, pp))
		return hbr_error_set(HBR_ERROR, "cannot start a thread");
	pp->running = true;
	return 0;
}

void hbr_agent_worker_release(struct worker *wk)
{
	struct packer *pp = &wk->pp;

	if (pp->running) {
		/* A stage still being packed is waited for: the packer
		 * reads it. */
		pthread_mutex_lock(&pp->lock);
		while (pp->req && !pp->done)
			pthread_cond_wait(&pp->cv, &pp->lock);
		pp->quit = true;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->lock);
		pthread_join(pp->thread, NULL);
	}
	hbr_free(wk->fc.poff);
	hbr_free(wk->fc.map);
	hbr_agent_fp_list_release(&wk->fps);
	hbr_agent_async_release(&pp->check);
	hbr_buf_release(&pp->list);
	hbr_free(pp->keep);
	pthread_mutex_destroy(&pp->lock);
	pthread_cond_destroy(&pp->cv);
	for (int i = 0; i < 2; i++) {
		hbr_free(wk->stages[i].buf);
		hbr_free(wk->stages[i].c);
	}
	if (pp->pk && wk->b->up)
		hbr_agent_uploader_recycle(wk->b->up, pp->pk);
}

static void slot_done(struct backup *b, struct slot *s, int state)
{
	pthread_mutex_lock(&b->lock);
	atomic_store(&s->state, state);
	pthread_cond_broadcast(&b->done_cv);
	pthread_mutex_unlock(&b->lock);
}

void *hbr_agent_worker_main(void *arg)
{
	struct worker *wk = arg;
	struct backup *b = wk->b;

	for (;;) {
		struct slot *s;
		uint64_t seq;
		int error;

		uint64_t t0 = hbr_time_mono_ns();

		pthread_mutex_lock(&b->lock);
		while (!b->work_n && !b->work_closed && !stopped(b))
			pthread_cond_wait(&b->work_cv, &b->lock);
		atomic_fetch_add(&b->ns_wait_work, hbr_time_mono_ns() - t0);
		if (!b->work_n || stopped(b)) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		seq = b->work[b->work_head];
		b->work_head = (b->work_head + 1) % WINDOW;
		b->work_n--;
		pthread_mutex_unlock(&b->lock);

		s = &b->slots[seq % WINDOW];
		error = read_file(wk, s);
		if (error && stopped(b)) {
			slot_done(b, s, SLOT_SKIP);
			break;
		}
		if (error == HBR_EIO) {
			/* The file, not the job: skip it and list it. */
			hbr_agent_job_error_file(b->job, s->e.path.ptr,
			                         hbr_error_msg());
			slot_done(b, s, SLOT_SKIP);
			continue;
		}
		if (error) {
			(void)hbr_agent_job_fail(b->job, error, "read");
			slot_done(b, s, SLOT_SKIP);
			break;
		}
		slot_done(b, s, SLOT_READY);
	}
	if (!stopped(b))
		(void)hbr_agent_worker_flush(wk);
	/* The walker may be waiting for a slot this worker will not
	 * finish. */
	pthread_mutex_lock(&b->lock);
	pthread_cond_broadcast(&b->done_cv);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}
