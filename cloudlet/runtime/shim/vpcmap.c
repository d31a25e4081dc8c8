/*
 * The VPC address map, for bindshim.c: where the instances of this instance's VPC
 * really listen.
 *
 * Why: EC2 describes an instance of a created subnet at an address from the
 * subnet's CIDR (10.20.0.4) while its processes listen on the instance's own
 * loopback address (127.x.y.z). Inside a VPC, instances reach each other at the
 * private addresses; so EC2 keeps, per VPC, a small text file (its path in
 * CLOUDLET_VPC_ADDRESSES) naming both for each running instance of the VPC,
 * replaced (written, then renamed) whenever one starts, stops or changes address:
 *
 *   dns 1                     the VPC resolves its instances' private DNS names
 *   cidr 10.20.0.0/16         one line per IPv4 block of the VPC (and per block a
 *                             route sends into an active VPC peering)
 *   map 10.20.0.4 127.5.1.1   private address, loopback address (instances of the
 *                             VPC, and peered ones both route tables let through)
 *   nodns 10.1.0.0/16         names of addresses in this block do not resolve (a
 *                             peered VPC that does not allow DNS resolution)
 *   domain corp.example       another domain whose ip-a-b-c-d names resolve (the
 *                             custom domain of the VPC's DHCP option set)
 *   guard 10.20.0.5           the security groups restrict traffic to this mapped
 *                             address: only what its allow lines name gets through
 *   allow 10.20.0.5 tcp 80 80 protocol (tcp or udp) and port range let through
 *
 * Lines starting with '#', unknown keywords and malformed lines are ignored.
 * vpc_route() tells connect() and sendto() where a destination really is: a mapped
 * address's loopback address; VPC_ABSENT for an address inside the VPC's blocks
 * that no running instance holds (AWS drops such packets: the caller answers as
 * the timeout would); VPC_PASS for anything else (the host's own network).
 * vpc_permits() tells them whether the security groups let a connection or a
 * datagram to a mapped address through (unguarded addresses are open).
 *
 * The file is read again only when stat() shows it replaced or changed, by one
 * thread at a time. Readers never wait: the map lives in two static tables, the
 * reloader fills the one not in use and then publishes it, and a reader checks the
 * table's sequence number around its lookup (a seqlock), retrying a few times. So
 * a lookup is safe in any thread and in a signal handler (connect and sendto are
 * async-signal-safe, their wrappers must be too): no locks, no allocation, only
 * stat, open, read and close (a child forked mid-read starts over, see
 * after_fork_child). Everything is bounded: VPC_MAX_FILE bytes read, VPC_MAX_MAPS
 * addresses, VPC_MAX_CIDRS blocks (of each keyword), VPC_MAX_DOMAINS domains of
 * VPC_DOMAIN_LEN bytes, VPC_MAX_GUARDS guarded addresses and VPC_MAX_ALLOWS allow
 * lines, lines of VPC_LINE bytes at most. Guards beyond the bound are ignored (the
 * address is open); an allow line beyond it opens every guarded address (a map cut
 * short must not drop what its lost lines allowed).
 * The Python shim (python/sitecustomize.py) reads the same file; keep them in step.
 */
#define _GNU_SOURCE
#include "vpcmap.h"
#include "vpcparse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define VPC_MAX_MAPS 4096
#define VPC_MAX_CIDRS 64
#define VPC_MAX_DOMAINS 4
#define VPC_DOMAIN_LEN 96
#define VPC_MAX_GUARDS 4096
#define VPC_MAX_ALLOWS 8192
#define VPC_MAX_FILE (1 << 20)
#define VPC_LINE 128
#define VPC_RETRIES 32

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

struct vpc_table {
    unsigned seq; /* odd while being written */
    int n_maps;
    int n_cidrs;
    int dns;
    uint32_t priv[VPC_MAX_MAPS]; /* network order */
    uint32_t loop[VPC_MAX_MAPS]; /* network order */
    uint32_t net[VPC_MAX_CIDRS]; /* host order, masked */
    uint32_t mask[VPC_MAX_CIDRS];
    int n_nodns;
    uint32_t nodns_net[VPC_MAX_CIDRS]; /* host order, masked */
    uint32_t nodns_mask[VPC_MAX_CIDRS];
    int n_domains;
    char domains[VPC_MAX_DOMAINS][VPC_DOMAIN_LEN]; /* lower case, no trailing dot */
    int n_guards;
    int n_allows;
    int allows_lost; /* an allow line did not fit: guards open */
    uint32_t guard[VPC_MAX_GUARDS];     /* network order */
    uint32_t allow_addr[VPC_MAX_ALLOWS]; /* network order */
    uint32_t allow_ports[VPC_MAX_ALLOWS]; /* first << 16 | last */
    unsigned char allow_udp[VPC_MAX_ALLOWS]; /* 1: udp, 0: tcp */
};

/* What fill() has parsed so far into a table. */
struct counts {
    int maps, cidrs, nodns, domains, dns, guards, allows, allows_lost;
};

struct file_id {
    int present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

static struct vpc_table tables[2];
static int active = -1; /* the published table, -1 before the first read */
static char reloading;  /* held (test-and-set) by the one thread reading the file */
static struct file_id seen; /* what the published table was read from: the reloader's */
static char chunk[4096];    /* the reloader's read buffer */
static int vpc_state = -1;  /* -1: environment not read, 0: no map, 1: map */
static char map_path[4096];
static char domain[128]; /* lower case: "ec2.internal", "eu-west-1.compute.internal" */

/* A child forked while another thread was reading the file would keep that reader's
 * flag (and a table marked as being written) forever: it is single-threaded here, so
 * it takes both back and reads the file again at its next lookup. */
static void after_fork_child(void) {
    for (int i = 0; i < 2; i++)
        if (tables[i].seq & 1) tables[i].seq++;
    seen.present = -1;
    reloading = 0;
}

void vpc_configure(void) {
    if (vpc_state != -1) return;
    const char *path = getenv("CLOUDLET_VPC_ADDRESSES");
    const char *dom = getenv("CLOUDLET_VPC_DOMAIN");
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n >= sizeof map_path) {
        vpc_state = 0;
        return;
    }
    memcpy(map_path, path, n + 1);
    size_t d = dom ? strlen(dom) : 0;
    if (d < sizeof domain) {
        for (size_t i = 0; i < d; i++)
            domain[i] = (dom[i] >= 'A' && dom[i] <= 'Z') ? (char)(dom[i] - 'A' + 'a') : dom[i];
        domain[d] = 0;
    }
    pthread_atfork(NULL, NULL, after_fork_child);
    vpc_state = 1;
}

/* -- parsing ------------------------------------------------------------------ */

/* A domain name (letters, digits, '-', '.'), stored lower case without a trailing dot. */
static void add_domain(struct vpc_table *t, const char *p, struct counts *n) {
    char name[VPC_DOMAIN_LEN];
    size_t len = 0;
    for (; *p && *p != ' ' && *p != '\t' && *p != '\r'; p++) {
        char c = vp_lower(*p);
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!ok || len + 1 >= sizeof name) return;
        name[len++] = c;
    }
    if (!vp_line_end(p)) return;
    while (len > 0 && name[len - 1] == '.') len--;
    if (len == 0 || n->domains >= VPC_MAX_DOMAINS) return;
    for (size_t i = 0; i < len; i++) STORE(t->domains[n->domains][i], name[i]);
    STORE(t->domains[n->domains][len], (char)0);
    n->domains++;
}

static void parse_line(struct vpc_table *t, const char *p, struct counts *n) {
    uint32_t a, b;
    vp_skip_blanks(&p);
    if (vp_keyword(&p, "map")) {
        if (n->maps >= VPC_MAX_MAPS || !vp_quad(&p, '.', &a)) return;
        vp_skip_blanks(&p);
        if (!vp_quad(&p, '.', &b) || !vp_line_end(p)) return;
        STORE(t->priv[n->maps], htonl(a));
        STORE(t->loop[n->maps], htonl(b));
        n->maps++;
    } else if (vp_keyword(&p, "cidr")) {
        if (n->cidrs >= VPC_MAX_CIDRS || !vp_block(&p, &a, &b)) return;
        STORE(t->net[n->cidrs], a);
        STORE(t->mask[n->cidrs], b);
        n->cidrs++;
    } else if (vp_keyword(&p, "nodns")) {
        if (n->nodns >= VPC_MAX_CIDRS || !vp_block(&p, &a, &b)) return;
        STORE(t->nodns_net[n->nodns], a);
        STORE(t->nodns_mask[n->nodns], b);
        n->nodns++;
    } else if (vp_keyword(&p, "guard")) {
        if (n->guards >= VPC_MAX_GUARDS || !vp_quad(&p, '.', &a) || !vp_line_end(p)) return;
        STORE(t->guard[n->guards], htonl(a));
        n->guards++;
    } else if (vp_keyword(&p, "allow")) {
        unsigned udp;
        if (!vp_quad(&p, '.', &a) || (*p != ' ' && *p != '\t') || !vp_port_range(&p, &udp, &b))
            return;
        if (n->allows >= VPC_MAX_ALLOWS) {
            n->allows_lost = 1;
            return;
        }
        STORE(t->allow_addr[n->allows], htonl(a));
        STORE(t->allow_ports[n->allows], b);
        STORE(t->allow_udp[n->allows], (unsigned char)udp);
        n->allows++;
    } else if (vp_keyword(&p, "domain")) {
        add_domain(t, p, n);
    } else if (vp_keyword(&p, "dns")) {
        if ((*p == '0' || *p == '1') && vp_line_end(p + 1)) n->dns = *p == '1';
    }
}

/* Fill t from the open file fd (t is not published: stale readers retry). */
static void fill(struct vpc_table *t, int fd) {
    char line[VPC_LINE];
    size_t len = 0, total = 0;
    int too_long = 0, eof = 0;
    struct counts n = {0, 0, 0, 0, 0, 0, 0, 0};
    while (total < VPC_MAX_FILE) {
        ssize_t got = fd < 0 ? 0 : read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            eof = 1;
            break;
        }
        total += (size_t)got;
        for (ssize_t i = 0; i < got; i++) {
            char c = chunk[i];
            if (c == '\n' || c == 0) {
                line[len] = 0;
                if (!too_long) parse_line(t, line, &n);
                len = 0;
                too_long = 0;
            } else if (len + 1 < sizeof line) {
                line[len++] = c;
            } else {
                too_long = 1;
            }
        }
    }
    if (eof && len > 0 && !too_long) { /* a last line without its newline */
        line[len] = 0;
        parse_line(t, line, &n);
    }
    STORE(t->n_maps, n.maps);
    STORE(t->n_cidrs, n.cidrs);
    STORE(t->n_nodns, n.nodns);
    STORE(t->n_domains, n.domains);
    STORE(t->dns, n.dns);
    STORE(t->n_guards, n.guards);
    STORE(t->n_allows, n.allows);
    STORE(t->allows_lost, n.allows_lost);
}

static void identify(const struct stat *st, struct file_id *id) {
    id->present = 1;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
}

static int same_file(const struct file_id *a, const struct file_id *b) {
    if (a->present != b->present) return 0;
    if (!a->present) return 1;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Read the file again if it changed since the published table was read. */
static void refresh(void) {
    struct stat st;
    struct file_id now = {0};
    if (stat(map_path, &st) == 0 && S_ISREG(st.st_mode)) identify(&st, &now);
    if (__atomic_test_and_set(&reloading, __ATOMIC_ACQUIRE)) return; /* being read */
    int current = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (current >= 0 && same_file(&now, &seen)) {
        __atomic_clear(&reloading, __ATOMIC_RELEASE);
        return;
    }
    int fd = now.present ? open(map_path, O_RDONLY | O_CLOEXEC) : -1;
    struct file_id got = {0};
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        identify(&st, &got);
    } else if (fd >= 0) {
        close(fd);
        fd = -1;
    }
    int next = current == 0 ? 1 : 0;
    struct vpc_table *t = &tables[next];
    unsigned seq = LOAD(t->seq);
    STORE(t->seq, seq + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    fill(t, fd);
    __atomic_store_n(&t->seq, seq + 2, __ATOMIC_RELEASE);
    __atomic_store_n(&active, next, __ATOMIC_RELEASE);
    if (fd >= 0) close(fd);
    seen = got;
    __atomic_clear(&reloading, __ATOMIC_RELEASE);
}

static int clamp(int n, int max) { return n < 0 ? 0 : (n > max ? max : n); }

/* -- lookups ------------------------------------------------------------------ */

enum vpc_verdict vpc_route(uint32_t addr, uint32_t *loopback) {
    if (vpc_state != 1) return VPC_PASS;
    int saved = errno;
    refresh();
    errno = saved;
    uint32_t host = ntohl(addr);
    for (int tries = 0; tries < VPC_RETRIES; tries++) {
        int i = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
        if (i < 0) return VPC_PASS;
        struct vpc_table *t = &tables[i];
        unsigned s1 = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) continue;
        enum vpc_verdict verdict = VPC_PASS;
        uint32_t to = 0;
        int n = clamp(LOAD(t->n_maps), VPC_MAX_MAPS);
        for (int k = 0; k < n; k++) {
            if (LOAD(t->priv[k]) == addr) {
                verdict = VPC_MAPPED;
                to = LOAD(t->loop[k]);
                break;
            }
        }
        int c = clamp(LOAD(t->n_cidrs), VPC_MAX_CIDRS);
        for (int k = 0; verdict == VPC_PASS && k < c; k++)
            if ((host & LOAD(t->mask[k])) == LOAD(t->net[k])) verdict = VPC_ABSENT;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&t->seq, __ATOMIC_RELAXED) != s1) continue;
        if (verdict == VPC_MAPPED) *loopback = to;
        return verdict;
    }
    return VPC_PASS;
}

int vpc_permits(uint32_t addr, int udp, unsigned port) {
    if (vpc_state != 1) return 1;
    int saved = errno;
    refresh();
    errno = saved;
    for (int tries = 0; tries < VPC_RETRIES; tries++) {
        int i = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
        if (i < 0) return 1;
        struct vpc_table *t = &tables[i];
        unsigned s1 = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) continue;
        int guarded = 0, allowed = LOAD(t->allows_lost);
        int ng = clamp(LOAD(t->n_guards), VPC_MAX_GUARDS);
        for (int k = 0; !guarded && k < ng; k++) guarded = LOAD(t->guard[k]) == addr;
        int na = clamp(LOAD(t->n_allows), VPC_MAX_ALLOWS);
        for (int k = 0; guarded && !allowed && k < na; k++) {
            if (LOAD(t->allow_addr[k]) != addr) continue;
            uint32_t ports = LOAD(t->allow_ports[k]);
            int same = (LOAD(t->allow_udp[k]) != 0) == (udp != 0);
            allowed = same && port >= (ports >> 16) && port <= (ports & 0xffff);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&t->seq, __ATOMIC_RELAXED) != s1) continue;
        return !guarded || allowed;
    }
    return 1;
}

/* Whether p (a name's part after "ip-a-b-c-d.") is the domain dom (lower case), ignoring
 * case and one trailing dot; dom is read atomically when it lives in a table. */
static int same_domain(const char *p, const char *dom, int in_table) {
    size_t i = 0;
    for (; i < VPC_DOMAIN_LEN; i++) {
        char d = in_table ? LOAD(dom[i]) : dom[i];
        if (d == 0) break;
        if (vp_lower(p[i]) != d) return 0;
    }
    if (i == 0 || i == VPC_DOMAIN_LEN) return 0;
    return p[i] == 0 || (p[i] == '.' && p[i + 1] == 0);
}

/* For a name ip-a-b-c-d.<p>: 0 when p is none of the map's domains, 1 when the name
 * resolves, -1 when it must not (DNS off in the VPC, or a nodns block holds addr). */
static int name_verdict(const char *p, uint32_t addr) {
    int ours = domain[0] != 0 && same_domain(p, domain, 0);
    int saved = errno;
    refresh();
    errno = saved;
    for (int tries = 0; tries < VPC_RETRIES; tries++) {
        int i = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
        if (i < 0) break;
        struct vpc_table *t = &tables[i];
        unsigned s1 = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) continue;
        int dns = LOAD(t->dns), match = ours, hidden = 0;
        int nd = clamp(LOAD(t->n_domains), VPC_MAX_DOMAINS);
        for (int k = 0; !match && k < nd; k++) match = same_domain(p, t->domains[k], 1);
        int nn = clamp(LOAD(t->n_nodns), VPC_MAX_CIDRS);
        for (int k = 0; !hidden && k < nn; k++)
            hidden = (addr & LOAD(t->nodns_mask[k])) == LOAD(t->nodns_net[k]);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&t->seq, __ATOMIC_RELAXED) != s1) continue;
        if (!match) return 0;
        return dns && !hidden ? 1 : -1;
    }
    return ours ? -1 : 0;
}

int vpc_resolve(const char *name, char out[16]) {
    if (vpc_state != 1 || name == NULL) return 0;
    if (vp_lower(name[0]) != 'i' || vp_lower(name[1]) != 'p' || name[2] != '-') return 0;
    const char *p = name + 3;
    uint32_t addr;
    if (!vp_quad(&p, '-', &addr) || *p != '.') return 0;
    int verdict = name_verdict(p + 1, addr);
    if (verdict <= 0) return verdict;
    char *o = out;
    for (int shift = 24; shift >= 0; shift -= 8) {
        unsigned part = (addr >> shift) & 0xff;
        if (part >= 100) *o++ = (char)('0' + part / 100);
        if (part >= 10) *o++ = (char)('0' + part / 10 % 10);
        *o++ = (char)('0' + part % 10);
        if (shift) *o++ = '.';
    }
    *o = 0;
    return 1;
}
