/*
 * cloudlet bind/connect shim, loaded into every EC2 instance with LD_PRELOAD.
 *
 * Why: every instance shares this machine's network stack, but programs are
 * written for EC2, where each instance has its own addresses. A server that
 * binds 0.0.0.0:8080 would take port 8080 on every address, so a second
 * instance could not bind it; and "localhost" inside an instance would be the
 * host's, not the instance's. This library wraps libc's bind() and connect()
 * so that, inside an instance whose address is CLOUDLET_BIND_ADDR:
 *
 *   bind    0.0.0.0:P (P != 0) and 127.0.0.1:P       -> CLOUDLET_BIND_ADDR:P
 *           [::]:P (P != 0), [::1]:P, v4-mapped forms -> [::ffff:CLOUDLET_BIND_ADDR]:P
 *           (only on dual-stack sockets; an IPV6_V6ONLY socket is left alone)
 *   connect 127.0.0.1:P, 0.0.0.0:P                    -> CLOUDLET_BIND_ADDR:P
 *           [::1]:P, [::]:P, v4-mapped forms          -> [::ffff:CLOUDLET_BIND_ADDR]:P
 *           (dual-stack sockets only)
 *
 * except connects to the ports listed in CLOUDLET_ENDPOINT_PORT (comma
 * separated: cloudlet's own endpoint and the metadata service), which stay on
 * 127.0.0.1. Other 127.0.0.0/8 addresses (other instances) are untouched.
 * Wildcard binds to port 0 are untouched: the port is unique anyway, and a
 * client binding before connecting keeps its ordinary routing. Without
 * CLOUDLET_BIND_ADDR the library changes nothing. The Python shim
 * (python/sitecustomize.py) applies the same rules; keep them in step.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*sock_fn)(int, const struct sockaddr *, socklen_t);

static sock_fn real_bind;
static sock_fn real_connect;
static int configured = -1; /* -1: not read yet, 0: no instance address, 1: ready */
static struct in_addr instance_addr;
static unsigned short exempt[32];
static int n_exempt;

static void configure(void) {
    if (!real_bind) real_bind = (sock_fn)dlsym(RTLD_NEXT, "bind");
    if (!real_connect) real_connect = (sock_fn)dlsym(RTLD_NEXT, "connect");
    if (configured != -1) return;
    const char *addr = getenv("CLOUDLET_BIND_ADDR");
    const char *ports = getenv("CLOUDLET_ENDPOINT_PORT");
    int ok = addr && inet_pton(AF_INET, addr, &instance_addr) == 1;
    n_exempt = 0;
    while (ok && ports && *ports && n_exempt < 32) {
        char *end;
        long port = strtol(ports, &end, 10);
        if (end == ports) break;
        if (port > 0 && port < 65536) exempt[n_exempt++] = (unsigned short)port;
        ports = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
    configured = ok ? 1 : 0;
}

__attribute__((constructor)) static void cloudlet_shim_init(void) { configure(); }

static int is_exempt(unsigned short port) {
    for (int i = 0; i < n_exempt; i++)
        if (exempt[i] == port) return 1;
    return 0;
}

static int v6only(int fd) {
    int on = 0;
    socklen_t len = sizeof on;
    if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len) != 0) return 1;
    return on;
}

/* The IPv4 address an IPv6 one stands for: 0.0.0.0 for ::, 127.0.0.1 for ::1,
 * the embedded address for ::ffff:a.b.c.d; 1 when it is one of those. */
static int v6_as_v4(const struct in6_addr *a6, uint32_t *out) {
    if (IN6_IS_ADDR_UNSPECIFIED(a6)) {
        *out = INADDR_ANY;
        return 1;
    }
    if (IN6_IS_ADDR_LOOPBACK(a6)) {
        *out = INADDR_LOOPBACK;
        return 1;
    }
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
        uint32_t v;
        memcpy(&v, &a6->s6_addr[12], 4);
        *out = ntohl(v);
        return 1;
    }
    return 0;
}

static void map_v4(struct sockaddr_in6 *sa) {
    memset(&sa->sin6_addr, 0, sizeof sa->sin6_addr);
    sa->sin6_addr.s6_addr[10] = 0xff;
    sa->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sa->sin6_addr.s6_addr[12], &instance_addr, 4);
    sa->sin6_scope_id = 0;
}

/* Rewrite *addr into *copy when it should be steered; returns the new address or
 * the original. Binds steer 0.0.0.0/:: only for a port other than 0. */
static const struct sockaddr *steer(int fd, const struct sockaddr *addr, socklen_t len,
                                    struct sockaddr_storage *copy, socklen_t *new_len,
                                    int is_bind) {
    *new_len = len;
    if (configured != 1 || addr == NULL) return addr;
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        uint32_t a = ntohl(in->sin_addr.s_addr);
        unsigned short port = ntohs(in->sin_port);
        int steer_it = is_bind ? (a == INADDR_LOOPBACK || (a == INADDR_ANY && port != 0))
                               : ((a == INADDR_LOOPBACK || a == INADDR_ANY) && !is_exempt(port));
        if (!steer_it) return addr;
        struct sockaddr_in *out = (struct sockaddr_in *)copy;
        memcpy(out, in, sizeof *out);
        out->sin_addr = instance_addr;
        *new_len = sizeof *out;
        return (const struct sockaddr *)out;
    }
    if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        uint32_t a;
        unsigned short port = ntohs(in6->sin6_port);
        if (!v6_as_v4(&in6->sin6_addr, &a)) return addr;
        int steer_it = is_bind ? (a == INADDR_LOOPBACK || (a == INADDR_ANY && port != 0))
                               : ((a == INADDR_LOOPBACK || a == INADDR_ANY) && !is_exempt(port));
        if (!steer_it || v6only(fd)) return addr;
        struct sockaddr_in6 *out = (struct sockaddr_in6 *)copy;
        memcpy(out, in6, sizeof *out);
        map_v4(out);
        *new_len = sizeof *out;
        return (const struct sockaddr *)out;
    }
    return addr;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    configure();
    if (!real_bind) {
        errno = ENOSYS;
        return -1;
    }
    struct sockaddr_storage copy;
    socklen_t new_len;
    const struct sockaddr *target = steer(fd, addr, len, &copy, &new_len, 1);
    return real_bind(fd, target, new_len);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    configure();
    if (!real_connect) {
        errno = ENOSYS;
        return -1;
    }
    struct sockaddr_storage copy;
    socklen_t new_len;
    const struct sockaddr *target = steer(fd, addr, len, &copy, &new_len, 0);
    return real_connect(fd, target, new_len);
}
