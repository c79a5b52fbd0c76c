/* The backup pipeline (agent_backup.h). */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/stat.h>
#include "agent/agent_backup.h"
#include "agent/agent_glob.h"
#include "agent/agent_parent.h"
#include "agent/agent_throttle.h"
#include "agent/agent_upload.h"
#include "agent/agent_walk.h"
#include "core/pack.h"
#include "core/tree.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/random.h"
#include "util/timeutil.h"

#define WINDOW    4096u /* entries between the walker and the tree */
#define READ_SIZE (1u << 20)
/* A worker reads into one of two stage buffers, where the chunks stay
 * until CheckAgentChunks has answered for them: no copy. */
#define STAGE_BUF   (6u << 20)
#define CHECK_MAX   4096u /* ids per CheckAgentChunks (<= 8192) */
#define PACK_CHUNKS 16384u /* chunks per pack (<= 65536) */
#define TREE_FLUSH  (1u << 20)
#define MAX_EXTENTS 65536u /* more: read the file as if dense */
/* Two uploads in flight keep both of hbrd's HTTP threads busy (one
 * leaves it idle while it writes; three measured no faster). Under a
 * SpeedLimit one is enough. */
#define UPLOADERS    2
#define UPLOAD_QUEUE 1
#define MIN_PACK     (256u << 10)

enum slot_state { SLOT_FREE, SLOT_WORK, SLOT_READY, SLOT_SKIP };

struct slot {
	struct hbr_agent_entry e;
	atomic_int state;
};

struct hl_entry {
	uint64_t dev, ino;
	char *path; /* NULL: free */
};

struct backup;

/* A chunk waiting for CheckAgentChunks: its bytes are in its stage. */
struct staged {
	uint8_t id[HBR_CHUNK_ID_LEN];
	uint32_t len;
	size_t off;
};

/* A read buffer and the new chunks in it, which one CheckAgentChunks
 * asks about. */
struct stage {
	uint8_t *buf; /* STAGE_BUF bytes */
	struct staged *c;
	size_t n, cap;
};

/*
 * A worker's packer: a thread with its own connection that takes a full
 * stage, asks the server which of its chunks it lacks, compresses those
 * into its pack and queues full packs for upload, while the worker reads
 * and hashes into its other stage. The round trip and the compression so
 * overlap the reading instead of stalling it.
 */
struct packer {
	struct backup *b;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct stage *req; /* being packed; NULL: idle */
	bool done, quit;
	int error;
	struct hbr_agent_async check; /* CheckAgentChunks */
	bool *keep; /* keep[i] when the server lacks chunk i */
	size_t cap_keep;
	struct hbr_buf list; /* ChunkIds */
	struct hbr_agent_pack *pk; /* the pack being filled */
};

struct worker {
	struct backup *b;
	pthread_t thread;
	bool running;
	struct hbr_chunker ch;
	/* In stages[cur].buf: the open chunk, the next byte to scan, the
	 * end of the data read. */
	size_t start, scan, end;
	struct stage stages[2];
	int cur; /* the stage being filled */
	bool pending; /* the other one is with the packer */
	struct packer pp;
};

struct backup {
	struct hbr_agent_job *job;
	struct hbr_agent_conn conn;
	struct hbr_agent_filter filter;
	char **roots;
	size_t n_roots;
	struct hbr_agent_speed speed;
	size_t pack_target;
	const char *parent_id; /* NULL: a full backup */

	pthread_mutex_t known_lock;
	struct hbr_idset known; /* in the vault or on its way there */

	struct hbr_agent_parent *parent;

	pthread_mutex_t lock; /* the work queue and slot hand-over */
	pthread_cond_t work_cv, done_cv;
	struct slot *slots; /* WINDOW of them; seq % WINDOW */
	uint64_t head, tail; /* next to write to the tree; next to fill */
	uint64_t *work; /* ring of seqs for the workers */
	size_t work_head, work_n;
	bool work_closed;

	struct worker *workers;
	int n_workers;
	struct hbr_agent_uploader *up;

	char tree_path[HBR_AGENT_FILE_MAX];
	int tree_fd;
	struct hbr_buf tree_out;

	struct hl_entry *hl;
	size_t hl_cap, hl_n;

	pthread_t scanner;
	bool scanning;

	/* The walk's own counts: the totals the commit reports. */
	uint64_t files, reused, bytes, items;
	/* The share (percent) of the chunks checked last that the server
	 * had: packers compress before checking while it is low. */
	atomic_int present_pct;
	bool inline_pack; /* workers pack their own stages (MaxCpuCore 1) */
	/* Where the walker spends its time (ns, for the debug log). */
	uint64_t ns_walk, ns_find, ns_encode;
	/* Where the workers wait (ns, for the debug log). */
	atomic_uint_fast64_t ns_check, ns_check_wait, ns_put, ns_wait_work;
	atomic_uint_fast64_t n_checks, ns_check_rpc;
};

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

/* ---- the worker's pack: stage, check, compress, upload ------------ */

static bool stopped(const struct backup *b)
{
	return hbr_agent_job_stopped(b->job);
}

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
static int flush(struct worker *wk)
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

/* Read up to limit bytes of fd (to EOF when UINT64_MAX) through the
 * chunker; chunks that end are handed on. *got counts what was read.
 * HBR_EIO for a read error (the file is skipped); other errors stop the
 * job. */
static int feed(struct worker *wk, struct hbr_agent_entry *e, int fd,
                uint64_t limit, uint64_t *got)
{
	int error;

	while (limit) {
		struct stage *st = &wk->stages[wk->cur];
		size_t want;
		ssize_t n;

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
		while (wk->scan < wk->end) {
			size_t k = hbr_chunker_next(&wk->ch, st->buf + wk->scan,
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
		if (stopped(wk->b))
			return HBR_ECONFLICT;
	}
	return 0;
}

/* The end of a stream: the open chunk is the last one. The next file's
 * data follows in the same stage. */
static int feed_end(struct worker *wk, struct hbr_agent_entry *e)
{
	int error = 0;

	if (wk->end > wk->start)
		error = chunk_done(wk, e, wk->stages[wk->cur].buf + wk->start,
		                   wk->end - wk->start);
	wk->start = wk->scan = wk->end;
	hbr_chunker_reset(&wk->ch);
	return error;
}

/* A stream abandoned half-way: its open chunk is dropped. */
static void feed_abort(struct worker *wk)
{
	wk->end = wk->scan = wk->start;
	hbr_chunker_reset(&wk->ch);
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

static int64_t ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Read one file into its entry's chunk list. HBR_EIO: the file is
 * skipped (listed in ErrorFiles); other errors stop the job. */
static int read_file(struct worker *wk, struct hbr_agent_entry *e)
{
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
	if (e->sparse) {
		for (size_t i = 0; i < e->n_ext && !error; i++) {
			uint64_t before = got;

			if (lseek(fd, (off_t)e->ext[i].off, SEEK_SET) < 0) {
				error = hbr_error_set_os(HBR_EIO, "lseek");
				break;
			}
			error = feed(wk, e, fd, e->ext[i].len, &got);
			/* A file that shrank meanwhile: keep what is there. */
			if (!error && got - before < e->ext[i].len) {
				e->ext[i].len = got - before;
				e->n_ext = i + 1;
			}
		}
	} else {
		error = feed(wk, e, fd, UINT64_MAX, &got);
		e->size = got;
	}
	if (!error)
		error = feed_end(wk, e);
	else
		feed_abort(wk);
	if (!error && e->size > got) /* holes count as done */
		atomic_fetch_add(&b->job->bytes_done, e->size - got);
out:
	close(fd);
	return error;
}

/* ---- workers ------------------------------------------------------- */

static int worker_init(struct worker *wk, struct backup *b)
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

static void worker_release(struct worker *wk)
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

static void *worker_main(void *arg)
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
		error = read_file(wk, &s->e);
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
		(void)flush(wk);
	/* The walker may be waiting for a slot this worker will not
	 * finish. */
	pthread_mutex_lock(&b->lock);
	pthread_cond_broadcast(&b->done_cv);
	pthread_mutex_unlock(&b->lock);
	return NULL;
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
		if (state == SLOT_READY &&
		    (error = hbr_agent_entry_encode(&b->tree_out, &s->e)) < 0)
			return hbr_agent_job_fail(b->job, error, "tree");
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
static int classify(struct backup *b, struct hbr_agent_entry *e,
                    const struct stat *st)
{
	const struct hbr_agent_entry *p;
	const char *first;
	uint64_t t0;

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
		state = classify(b, &s->e, &item.st);
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

	if ((error = worker_init(&wk, b)) < 0)
		goto out;
	if ((fd = open(b->tree_path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = hbr_error_set_os(HBR_EIO, "cannot open %s",
		                         b->tree_path);
		goto out;
	}
	error = feed(&wk, tree, fd, UINT64_MAX, &got);
	close(fd);
	if (!error)
		error = feed_end(&wk, tree);
	/* The tree's bytes are not the job's. */
	atomic_fetch_sub(&b->job->bytes_done, got);
	if (!error)
		error = flush(&wk);
out:
	worker_release(&wk);
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
	if (b->parent_id && strcmp(b->parent_id, snapshot_id)) {
		hbr_agent_tree_cache_path(path, sizeof(path), b->job->state_dir,
		                          b->parent_id);
		(void)unlink(path);
	}
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
			worker_release(&b->workers[i]);
		}
		hbr_free(b->workers);
	}
	hbr_agent_uploader_free(b->up);
	hbr_agent_parent_free(b->parent);
	for (uint32_t i = 0; b->slots && i < WINDOW; i++)
		hbr_agent_entry_release(&b->slots[i].e);
	hbr_free(b->slots);
	hbr_free(b->work);
	if (b->tree_fd >= 0)
		close(b->tree_fd);
	if (b->tree_path[0])
		(void)unlink(b->tree_path);
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
		if ((error = worker_init(wk, &b)) < 0 ||
		    (pthread_create(&wk->thread, NULL, worker_main, wk) &&
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
		worker_release(&b.workers[i]);
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
		/* The parent named chunks the vault no longer has (or never
		 * had): read everything and check every chunk. */
		hbr_log_warn("job %s: backing up again without the parent",
		             job->id);
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
