/* Nonce replay cache: a striped in-memory set over per-period journals. */
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "auth/nonce.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/random.h"
#include "util/timeutil.h"

#define STRIPES     16 /* power of two; top hash bits pick one */
#define FIELD_MAX   255 /* longest access key id or nonce kept */
#define LINE_CAP    2048 /* > 20 + 2 * 3 * FIELD_MAX + 3 */
#define SLOTS       4 /* open journals; valid expiries span 3 */
#define SYNC_MS     200
#define ENTRIES_MAX ((size_t)4 << 20) /* bounds memory (~0.5 GiB) */
#define READ_CHUNK  65536

struct entry {
	struct entry *next;
	uint64_t hash;
	int64_t expiry;
	size_t klen, nlen;
	char data[]; /* access key id, NUL, nonce, NUL */
};

struct stripe {
	pthread_mutex_t mu;
	struct entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	int64_t next_prune;
};

/* An open journal: the one for expiries in [period, period + 1) windows.
 *
 * Lines are appended by copying into a shared mapping of the file, not
 * with write(): a store into a MAP_SHARED page is in the page cache the
 * moment it is made, so it survives kill -9 exactly like a write() would,
 * without a system call (and an inode time update) per request. The file
 * is grown ahead in MAP_GROW steps; the zero tail is cut off when the
 * journal is closed, or by the loader after a crash. */
struct slot {
	int fd; /* -1 when unused */
	int64_t period;
	off_t size; /* bytes of whole lines */
	char *map; /* MAP_SHARED, cap bytes */
	size_t cap;
	bool dirty;
};

#define MAP_GROW ((size_t)1 << 20)

struct hbr_nonce_cache {
	struct stripe stripes[STRIPES];
	uint64_t seed;
	int64_t window;
	char *dir;
	int dirfd;

	pthread_mutex_t jmu; /* everything below */
	struct slot slots[SLOTS];
	bool dir_dirty; /* a journal was created: fsync the dir */
	int64_t cur_period; /* highest now / window seen */
	bool stop;
	pthread_cond_t wake;
	pthread_t syncer;
	bool syncer_started;
};

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

static uint64_t fmix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Seeded per process: nonces are chosen by callers, and a fixed hash
 * would let one aim them all at a single bucket. */
static uint64_t hash_key(uint64_t seed, const char *ak, size_t klen,
                         const char *nonce, size_t nlen)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < klen; i++)
		h = (h ^ (unsigned char)ak[i]) * 0x100000001b3ULL;
	h = (h ^ klen) * 0x100000001b3ULL;
	for (size_t i = 0; i < nlen; i++)
		h = (h ^ (unsigned char)nonce[i]) * 0x100000001b3ULL;
	return fmix(h ^ seed);
}

static struct stripe *stripe_of(struct hbr_nonce_cache *c, uint64_t h)
{
	return &c->stripes[h >> 60];
}

static struct entry **find(struct stripe *s, uint64_t h, const char *ak,
                           size_t klen, const char *nonce, size_t nlen)
{
	struct entry **pp = &s->buckets[h & (s->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		struct entry *e = *pp;

		if (e->hash == h && e->klen == klen && e->nlen == nlen &&
		    !memcmp(e->data, ak, klen) &&
		    !memcmp(e->data + klen + 1, nonce, nlen))
			return pp;
	}
	return pp;
}

static void prune(struct stripe *s, int64_t now)
{
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct entry **pp = &s->buckets[b];

		while (*pp) {
			struct entry *e = *pp;

			if (e->expiry <= now) {
				*pp = e->next;
				hbr_free(e);
				s->count--;
			} else {
				pp = &e->next;
			}
		}
	}
}

static void grow(struct stripe *s)
{
	size_t n = s->nbuckets * 2;
	struct entry **b = hbr_calloc(n, sizeof(*b));

	for (size_t i = 0; i < s->nbuckets; i++) {
		struct entry *e = s->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	hbr_free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

/* Insert or, when present, extend; the caller holds s->mu. */
static void put(struct stripe *s, uint64_t h, const char *ak, size_t klen,
                const char *nonce, size_t nlen, int64_t expiry, int64_t now)
{
	struct entry **pp = find(s, h, ak, klen, nonce, nlen), *e;

	if (*pp) {
		if ((*pp)->expiry < expiry)
			(*pp)->expiry = expiry;
		return;
	}
	e = hbr_malloc(sizeof(*e) + klen + nlen + 2);
	e->hash = h;
	e->expiry = expiry;
	e->klen = klen;
	e->nlen = nlen;
	memcpy(e->data, ak, klen);
	e->data[klen] = '\0';
	memcpy(e->data + klen + 1, nonce, nlen);
	e->data[klen + 1 + nlen] = '\0';
	e->next = NULL;
	*pp = e;
	s->count++;
	if (s->count >= s->nbuckets) {
		prune(s, now);
		if (s->count >= s->nbuckets / 2)
			grow(s);
	}
}

static void encode_field(char **p, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~') {
			*(*p)++ = (char)ch;
		} else {
			*(*p)++ = '%';
			*(*p)++ = hex[ch >> 4];
			*(*p)++ = hex[ch & 15];
		}
	}
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Decode s[0..len) in place; false if malformed or too long. */
static bool decode_field(char *s, size_t len, size_t *out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return false;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			s[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	if (o == 0 || o > FIELD_MAX)
		return false;
	s[o] = '\0';
	*out_len = o;
	return true;
}

static void journal_name(char *out, size_t size, int64_t window, int64_t period)
{
	(void)snprintf(out, size, "nonce-%lld-%lld.log", (long long)window,
	               (long long)period);
}

/* "nonce-<window>-<period>.log" */
static bool parse_journal_name(const char *name, int64_t *window,
                               int64_t *period)
{
	char *end;
	long long w, p;

	if (strncmp(name, "nonce-", 6))
		return false;
	errno = 0;
	w = strtoll(name + 6, &end, 10);
	if (errno || end == name + 6 || *end != '-' || w <= 0)
		return false;
	name = end + 1;
	p = strtoll(name, &end, 10);
	if (errno || end == name || strcmp(end, ".log"))
		return false;
	*window = w;
	*period = p;
	return true;
}

static bool fully_expired(int64_t window, int64_t period, int64_t now)
{
	/* Every expiry in the file is < (period + 1) * window <= now. */
	return period < floordiv(now, window);
}

/* "<expiry> <ak> <nonce>" without the newline. */
static void load_line(struct hbr_nonce_cache *c, char *line, size_t len,
                      int64_t now, size_t *bad)
{
	char *sp1, *sp2, *end;
	size_t klen, nlen;
	long long expiry;

	line[len] = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2 || strchr(sp2 + 1, ' '))
		goto bad;
	errno = 0;
	expiry = strtoll(line, &end, 10);
	if (errno || end != sp1 || end == line)
		goto bad;
	if (!decode_field(sp1 + 1, (size_t)(sp2 - sp1 - 1), &klen) ||
	    !decode_field(sp2 + 1, strlen(sp2 + 1), &nlen))
		goto bad;
	if (expiry > now) {
		uint64_t h = hash_key(c->seed, sp1 + 1, klen, sp2 + 1, nlen);
		struct stripe *s = stripe_of(c, h);

		put(s, h, sp1 + 1, klen, sp2 + 1, nlen, expiry, now);
	}
	return;
bad:
	(*bad)++;
}

/* Load one journal; cut off a torn last line so appends start clean. */
static int load_journal(struct hbr_nonce_cache *c, const char *name,
                        int64_t now)
{
	char *chunk = hbr_malloc(READ_CHUNK), *line = hbr_malloc(LINE_CAP + 1);
	size_t llen = 0, bad = 0;
	bool overlong = false;
	off_t pos = 0, good = 0;
	int fd, error = 0;

	fd = openat(c->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		error = hbr_error_set_os(HBR_EIO, "open %s/%s", c->dir, name);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = hbr_error_set_os(HBR_EIO, "read %s/%s", c->dir,
			                         name);
			goto out;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++, pos++) {
			/* The zero tail of a journal that was mapped when
			 * hbrd died: no line continues past it. */
			if (chunk[i] == '\0') {
				pos = -1; /* forces the cut below */
				goto done;
			}
			if (chunk[i] == '\n') {
				if (overlong)
					bad++;
				else
					load_line(c, line, llen, now, &bad);
				llen = 0;
				overlong = false;
				good = pos + 1;
			} else if (llen < LINE_CAP) {
				line[llen++] = chunk[i];
			} else {
				overlong = true;
			}
		}
	}
done:
	if (bad)
		hbr_log_warn("nonce journal %s/%s: skipped %zu bad lines",
		             c->dir, name, bad);
	if (good != pos && ftruncate(fd, good) < 0) {
		error = hbr_error_set_os(HBR_EIO, "truncate %s/%s", c->dir,
		                         name);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	hbr_free(chunk);
	hbr_free(line);
	return error;
}

/* Delete fully expired journals; load the others when `load`. */
static int scan_dir(struct hbr_nonce_cache *c, int64_t now, bool load)
{
	struct dirent *de;
	DIR *d;
	int error = 0;

	d = opendir(c->dir);
	if (!d)
		return hbr_error_set_os(HBR_EIO, "opendir %s", c->dir);
	while ((de = readdir(d)) != NULL) {
		int64_t w, p;

		if (!parse_journal_name(de->d_name, &w, &p))
			continue;
		if (fully_expired(w, p, now)) {
			if (unlinkat(c->dirfd, de->d_name, 0) < 0 &&
			    errno != ENOENT)
				hbr_log_warn("nonce: cannot delete %s/%s: %s",
				             c->dir, de->d_name,
				             strerror(errno));
			continue;
		}
		if (load && (error = load_journal(c, de->d_name, now)) < 0)
			break;
	}
	closedir(d);
	return error;
}

static int mkdir_p(const char *dir)
{
	char *p;
	int error = 0;

	if (!*dir)
		return hbr_error_set(HBR_EIO, "empty nonce directory name");
	p = hbr_strdup(dir);
	for (char *s = p + 1;; s++) {
		bool last = *s == '\0';

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			error = hbr_error_set_os(HBR_EIO, "mkdir %s", p);
			break;
		}
		if (last)
			break;
		*s = '/';
	}
	hbr_free(p);
	return error;
}

/* Sync what is dirty; called and returns with jmu held, but drops it
 * around the slow part so that writers are not held up. */
static void sync_dirty(struct hbr_nonce_cache *c)
{
	int fds[SLOTS + 1];
	size_t n = 0;
	bool dir = false;

	for (size_t i = 0; i < SLOTS; i++) {
		struct slot *sl = &c->slots[i];

		if (sl->fd < 0 || !sl->dirty)
			continue;
		sl->dirty = false;
		/* A duplicate stays valid if the slot is closed meanwhile. */
		fds[n] = fcntl(sl->fd, F_DUPFD_CLOEXEC, 0);
		if (fds[n] >= 0)
			n++;
		else if (fdatasync(sl->fd) < 0)
			hbr_log_error("nonce journal fdatasync: %s",
			              strerror(errno));
	}
	if (c->dir_dirty) {
		c->dir_dirty = false;
		fds[n] = fcntl(c->dirfd, F_DUPFD_CLOEXEC, 0);
		if (fds[n] >= 0) {
			n++;
			dir = true;
		} else {
			(void)fsync(c->dirfd);
		}
	}
	if (!n)
		return;
	pthread_mutex_unlock(&c->jmu);
	for (size_t i = 0; i < n; i++) {
		int r = dir && i == n - 1 ? fsync(fds[i]) : fdatasync(fds[i]);

		if (r < 0)
			hbr_log_error("nonce journal sync: %s",
			              strerror(errno));
		close(fds[i]);
	}
	pthread_mutex_lock(&c->jmu);
}

static void *syncer_main(void *arg)
{
	struct hbr_nonce_cache *c = arg;

	pthread_mutex_lock(&c->jmu);
	while (!c->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += SYNC_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!c->stop &&
		       pthread_cond_timedwait(&c->wake, &c->jmu, &ts) == 0)
			;
		sync_dirty(c);
	}
	pthread_mutex_unlock(&c->jmu);
	return NULL;
}

static void close_slot(struct slot *sl, bool sync)
{
	if (sl->fd < 0)
		return;
	if (sync && sl->dirty && fdatasync(sl->fd) < 0)
		hbr_log_error("nonce journal fdatasync: %s", strerror(errno));
	if (sl->map)
		(void)munmap(sl->map, sl->cap);
	/* Drop the zero tail; the loader would skip it anyway. */
	if (ftruncate(sl->fd, sl->size) < 0)
		hbr_log_warn("nonce journal truncate: %s", strerror(errno));
	close(sl->fd);
	sl->fd = -1;
	sl->map = NULL;
	sl->cap = 0;
	sl->dirty = false;
}

/* A new window period began: drop the journals that ran out. */
static void rotate(struct hbr_nonce_cache *c, int64_t now)
{
	int64_t period = floordiv(now, c->window);

	if (period <= c->cur_period)
		return;
	c->cur_period = period;
	for (size_t i = 0; i < SLOTS; i++)
		if (c->slots[i].fd >= 0 &&
		    fully_expired(c->window, c->slots[i].period, now))
			close_slot(&c->slots[i], false);
	if (scan_dir(c, now, false) < 0)
		hbr_log_warn("nonce: %s", hbr_error_msg());
}

/* (Re)map sl so that `need` more bytes fit after its lines. */
static int map_slot(struct hbr_nonce_cache *c, struct slot *sl, size_t need)
{
	size_t cap = sl->cap ? sl->cap : MAP_GROW;
	char *map;

	while ((size_t)sl->size + need > cap || cap < (size_t)sl->size)
		cap += MAP_GROW;
	if (sl->map && cap == sl->cap)
		return 0;
	if (ftruncate(sl->fd, (off_t)cap) < 0)
		return hbr_error_set_os(HBR_EIO, "grow nonce journal in %s",
		                        c->dir);
	map = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, sl->fd, 0);
	if (map == MAP_FAILED)
		return hbr_error_set_os(HBR_EIO, "map nonce journal in %s",
		                        c->dir);
	if (sl->map)
		(void)munmap(sl->map, sl->cap);
	sl->map = map;
	sl->cap = cap;
	return 0;
}

/* The journal for `period`, opened (or created) on demand. */
static int get_slot(struct slot **out, struct hbr_nonce_cache *c,
                    int64_t period)
{
	struct slot *victim = NULL;
	char name[64];
	struct stat st;
	int fd, error;

	for (size_t i = 0; i < SLOTS; i++) {
		struct slot *sl = &c->slots[i];

		if (sl->fd >= 0 && sl->period == period) {
			*out = sl;
			return 0;
		}
		if (sl->fd < 0)
			victim = victim ? victim : sl;
	}
	if (!victim) {
		/* Only with far-off timestamps: evict the oldest period
		 * (rare, so its sync may run under the lock). */
		victim = &c->slots[0];
		for (size_t i = 1; i < SLOTS; i++)
			if (c->slots[i].period < victim->period)
				victim = &c->slots[i];
		close_slot(victim, true);
	}
	journal_name(name, sizeof(name), c->window, period);
	fd = openat(c->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	            0600);
	if (fd < 0)
		return hbr_error_set_os(HBR_EIO, "open %s/%s", c->dir, name);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return hbr_error_set_os(HBR_EIO, "fstat %s/%s", c->dir, name);
	}
	if (st.st_size == 0)
		c->dir_dirty = true;
	victim->fd = fd;
	victim->period = period;
	victim->size = st.st_size;
	victim->map = NULL;
	victim->cap = 0;
	victim->dirty = false;
	if ((error = map_slot(c, victim, 0)) < 0) {
		close(fd);
		victim->fd = -1;
		return error;
	}
	*out = victim;
	return 0;
}

static int journal_append(struct hbr_nonce_cache *c, const char *ak,
                          size_t klen, const char *nonce, size_t nlen,
                          int64_t expiry, int64_t now)
{
	char line[LINE_CAP], *p = line;
	struct slot *sl = NULL;
	ssize_t n;
	int error;

	p += snprintf(line, 24, "%lld ", (long long)expiry);
	encode_field(&p, ak, klen);
	*p++ = ' ';
	encode_field(&p, nonce, nlen);
	*p++ = '\n';

	pthread_mutex_lock(&c->jmu);
	rotate(c, now);
	if ((error = get_slot(&sl, c, floordiv(expiry, c->window))) < 0)
		goto out;
	n = p - line;
	if ((error = map_slot(c, sl, (size_t)n)) < 0)
		goto out;
	/* The newline goes last: a kill -9 in the middle of the copy leaves
	 * a line without one, which the loader drops. */
	memcpy(sl->map + sl->size, line, (size_t)n - 1);
	sl->map[sl->size + n - 1] = '\n';
	sl->size += n;
	sl->dirty = true;
out:
	pthread_mutex_unlock(&c->jmu);
	return error;
}

int hbr_nonce_check(struct hbr_nonce_cache *c, const char *access_key_id,
                    const char *nonce, int64_t timestamp, int64_t now)
{
	size_t klen = strlen(access_key_id), nlen = strlen(nonce);
	int64_t expiry;
	struct stripe *s;
	struct entry **pp;
	uint64_t h;
	int error;

	if (!klen || klen > FIELD_MAX || !nlen || nlen > FIELD_MAX)
		return hbr_error_set(
		        HBR_EINVAL,
		        "access key id and nonce must be 1 to %d bytes",
		        FIELD_MAX);
	expiry = timestamp > INT64_MAX - c->window ? INT64_MAX :
	                                             timestamp + c->window;
	h = hash_key(c->seed, access_key_id, klen, nonce, nlen);
	s = stripe_of(c, h);

	pthread_mutex_lock(&s->mu);
	if (now >= s->next_prune) {
		prune(s, now);
		s->next_prune = now + (c->window / 4 ? c->window / 4 : 1);
	}
	pp = find(s, h, access_key_id, klen, nonce, nlen);
	if (*pp && (*pp)->expiry > now) {
		pthread_mutex_unlock(&s->mu);
		return hbr_error_set(
		        HBR_ENONCEUSED,
		        "Specified signature nonce was used already.");
	}
	if (!*pp && s->count >= ENTRIES_MAX / STRIPES) {
		pthread_mutex_unlock(&s->mu);
		return hbr_error_set(HBR_EUNAVAIL,
		                     "nonce cache is full; try again later");
	}
	/* Claimed before the journal write, so a concurrent duplicate is
	 * refused while it is in flight; undone if the write fails. */
	if (*pp)
		(*pp)->expiry = expiry;
	else
		put(s, h, access_key_id, klen, nonce, nlen, expiry, now);
	pthread_mutex_unlock(&s->mu);

	/* Past its expiry the timestamp check refuses a replay anyway. */
	if (expiry <= now)
		return 0;
	error = journal_append(c, access_key_id, klen, nonce, nlen, expiry,
	                       now);
	if (error < 0) {
		pthread_mutex_lock(&s->mu);
		pp = find(s, h, access_key_id, klen, nonce, nlen);
		if (*pp && (*pp)->expiry == expiry) {
			struct entry *e = *pp;

			*pp = e->next;
			hbr_free(e);
			s->count--;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return error;
}

static void free_cache(struct hbr_nonce_cache *c)
{
	for (size_t i = 0; i < SLOTS; i++)
		close_slot(&c->slots[i], true);
	if (c->dir_dirty && c->dirfd >= 0)
		(void)fsync(c->dirfd);
	if (c->dirfd >= 0)
		close(c->dirfd); /* also drops the flock */
	for (size_t i = 0; i < STRIPES; i++) {
		struct stripe *s = &c->stripes[i];

		for (size_t b = 0; b < s->nbuckets; b++) {
			struct entry *e = s->buckets[b], *next;

			for (; e; e = next) {
				next = e->next;
				hbr_free(e);
			}
		}
		hbr_free(s->buckets);
		pthread_mutex_destroy(&s->mu);
	}
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->jmu);
	hbr_free(c->dir);
	hbr_free(c);
}

int hbr_nonce_open(struct hbr_nonce_cache **out, const char *dir,
                   int64_t window_seconds)
{
	struct hbr_nonce_cache *c;
	pthread_condattr_t ca;
	int64_t now = hbr_time_real();
	int error;

	HBR_ASSERT(window_seconds > 0);
	c = hbr_calloc(1, sizeof(*c));
	c->window = window_seconds;
	c->dir = hbr_strdup(dir);
	c->dirfd = -1;
	c->cur_period = floordiv(now, window_seconds);
	hbr_random_bytes(&c->seed, sizeof(c->seed));
	pthread_mutex_init(&c->jmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	for (size_t i = 0; i < SLOTS; i++)
		c->slots[i].fd = -1;
	for (size_t i = 0; i < STRIPES; i++) {
		pthread_mutex_init(&c->stripes[i].mu, NULL);
		c->stripes[i].nbuckets = 256;
		c->stripes[i].buckets = hbr_calloc(256, sizeof(struct entry *));
		c->stripes[i].next_prune = now;
	}

	if ((error = mkdir_p(dir)) < 0)
		goto out;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		error = hbr_error_set_os(HBR_EIO, "open %s", dir);
		goto out;
	}
	/* Two processes appending to one journal would each track a wrong
	 * file size, and neither would see the other's nonces. */
	if (flock(c->dirfd, LOCK_EX | LOCK_NB) < 0) {
		error = hbr_error_set_os(HBR_EIO,
		                         "nonce directory %s is in use", dir);
		goto out;
	}
	if ((error = scan_dir(c, now, true)) < 0)
		goto out;
	if (pthread_create(&c->syncer, NULL, syncer_main, c) != 0) {
		error = hbr_error_set(HBR_EIO, "cannot start the nonce syncer");
		goto out;
	}
	c->syncer_started = true;
	*out = c;
	c = NULL;
out:
	if (c)
		free_cache(c);
	return error;
}

void hbr_nonce_close(struct hbr_nonce_cache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->jmu);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->jmu);
	if (c->syncer_started)
		pthread_join(c->syncer, NULL);
	free_cache(c);
}
