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
 *
 * Inside a VPC (CLOUDLET_VPC_ADDRESSES names the VPC's address map, vpcmap.c),
 * instances reach each other at their private addresses, as on EC2:
 *
 *   connect, sendto, sendmsg  a private address of a running instance of the
 *                             same VPC (or of a peered one the route tables let
 *                             through) -> that instance's loopback address
 *                             (IPv4, and v4-mapped on dual-stack sockets)
 *   connect (stream sockets)  an address inside the VPC's blocks that no running
 *                             instance holds -> fails with ETIMEDOUT at once
 *                             (AWS drops the packets: a timeout, without the wait)
 *   connect, sendto, sendmsg  a mapped address the security groups do not let this
 *                             traffic through to (the map's guard/allow lines: tcp
 *                             for stream sockets, udp for datagram ones, by port)
 *                             -> a stream connect fails with ETIMEDOUT at once; a
 *                             datagram is dropped (the send reports it sent); a
 *                             datagram socket's connect is left untranslated, as for
 *                             an address no instance holds
 *   getaddrinfo, gethostbyname[2][_r]
 *                             the instances' private DNS names of this region
 *                             (ip-10-20-0-4.ec2.internal,
 *                             ip-10-20-0-4.<region>.compute.internal, domain in
 *                             CLOUDLET_VPC_DOMAIN) and of the map's other domains
 *                             -> their address, which connect then translates;
 *                             "no such host" when the VPC's DNS resolution or DNS
 *                             hostnames are off, or for the addresses of a peered
 *                             VPC whose names this VPC may not resolve
 *
 * Every other address is left alone. Only connects to IPv4 addresses outside
 * 127.0.0.0/8 cost something (one stat of the map file); symbols other than the
 * wrapped functions are hidden (built with -fvisibility=hidden).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpcmap.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*sock_fn)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef struct hostent *(*ghbn_fn)(const char *);
typedef struct hostent *(*ghbn2_fn)(const char *, int);
typedef int (*ghbn_r_fn)(const char *, struct hostent *, char *, size_t, struct hostent **,
                         int *);
typedef int (*ghbn2_r_fn)(const char *, int, struct hostent *, char *, size_t,
                          struct hostent **, int *);

static sock_fn real_bind;
static sock_fn real_connect;
static sendto_fn real_sendto;
static sendmsg_fn real_sendmsg;
static gai_fn real_getaddrinfo;
static ghbn_fn real_gethostbyname;
static ghbn2_fn real_gethostbyname2;
static ghbn_r_fn real_gethostbyname_r;
static ghbn2_r_fn real_gethostbyname2_r;
static int configured = -1; /* -1: not read yet, 0: no instance address, 1: ready */
static struct in_addr instance_addr;
static unsigned short exempt[32];
static int n_exempt;

static void configure(void) {
    if (!real_bind) real_bind = (sock_fn)dlsym(RTLD_NEXT, "bind");
    if (!real_connect) real_connect = (sock_fn)dlsym(RTLD_NEXT, "connect");
    if (configured != -1) return;
    real_sendto = (sendto_fn)dlsym(RTLD_NEXT, "sendto");
    real_sendmsg = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
    real_getaddrinfo = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    real_gethostbyname = (ghbn_fn)dlsym(RTLD_NEXT, "gethostbyname");
    real_gethostbyname2 = (ghbn2_fn)dlsym(RTLD_NEXT, "gethostbyname2");
    real_gethostbyname_r = (ghbn_r_fn)dlsym(RTLD_NEXT, "gethostbyname_r");
    real_gethostbyname2_r = (ghbn2_r_fn)dlsym(RTLD_NEXT, "gethostbyname2_r");
    vpc_configure();
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

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len) {
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

static int socket_type(int fd) {
    int type = 0;
    socklen_t len = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 ? type : -1;
}

/* A private address of the VPC (vpcmap.c): *copy with the instance's loopback address
 * for a mapped one the security groups let this socket's traffic through to; *absent
 * set to VPC_ABSENT for one of the VPC's that no instance holds, to DROPPED for a
 * mapped one the groups do not let through (the address is then left alone). */
#define DROPPED 3
static const struct sockaddr *vpc_steer(int fd, const struct sockaddr *addr, socklen_t len,
                                        struct sockaddr_storage *copy, socklen_t *new_len,
                                        int *absent) {
    *new_len = len;
    *absent = 0;
    if (addr == NULL) return addr;
    uint32_t a, to;
    unsigned port;
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        a = ((const struct sockaddr_in *)addr)->sin_addr.s_addr;
        port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        if (!IN6_IS_ADDR_V4MAPPED(a6)) return addr;
        memcpy(&a, &a6->s6_addr[12], 4);
        port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    } else {
        return addr;
    }
    uint32_t host = ntohl(a);
    if (host == INADDR_ANY || (host >> 24) == 127) return addr; /* nothing for these */
    enum vpc_verdict verdict = vpc_route(a, &to);
    if (verdict == VPC_ABSENT) *absent = VPC_ABSENT;
    if (verdict != VPC_MAPPED) return addr;
    int type = socket_type(fd);
    if ((type == SOCK_STREAM || type == SOCK_DGRAM) &&
        !vpc_permits(a, type == SOCK_DGRAM, port)) {
        *absent = DROPPED;
        return addr;
    }
    if (addr->sa_family == AF_INET) {
        struct sockaddr_in *out = (struct sockaddr_in *)copy;
        memcpy(out, addr, sizeof *out);
        out->sin_addr.s_addr = to;
        *new_len = sizeof *out;
        return (const struct sockaddr *)out;
    }
    if (v6only(fd)) return addr;
    struct sockaddr_in6 *out6 = (struct sockaddr_in6 *)copy;
    memcpy(out6, addr, sizeof *out6);
    memcpy(&out6->sin6_addr.s6_addr[12], &to, 4);
    *new_len = sizeof *out6;
    return (const struct sockaddr *)out6;
}

static int is_stream(int fd) { return socket_type(fd) == SOCK_STREAM; }

/* What a datagram's send answers when the security groups drop it: all of it sent. */
static ssize_t msg_size(const struct msghdr *msg) {
    size_t total = 0;
    for (size_t i = 0; msg->msg_iov != NULL && i < msg->msg_iovlen; i++)
        total += msg->msg_iov[i].iov_len;
    return (ssize_t)total;
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    configure();
    if (!real_connect) {
        errno = ENOSYS;
        return -1;
    }
    struct sockaddr_storage copy;
    socklen_t new_len;
    const struct sockaddr *target = steer(fd, addr, len, &copy, &new_len, 0);
    if (target == addr) {
        int absent, saved = errno;
        target = vpc_steer(fd, addr, len, &copy, &new_len, &absent);
        if (absent && is_stream(fd)) {
            errno = ETIMEDOUT;
            return -1;
        }
        errno = saved;
    }
    return real_connect(fd, target, new_len);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                      socklen_t len) {
    configure();
    if (!real_sendto) {
        errno = ENOSYS;
        return -1;
    }
    struct sockaddr_storage copy;
    socklen_t new_len;
    int absent;
    int saved = errno;
    const struct sockaddr *target = vpc_steer(fd, addr, len, &copy, &new_len, &absent);
    errno = saved;
    if (absent == DROPPED) return (ssize_t)n; /* dropped on the way, as AWS does */
    return real_sendto(fd, buf, n, flags, target, new_len);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    configure();
    if (!real_sendmsg) {
        errno = ENOSYS;
        return -1;
    }
    if (msg != NULL && msg->msg_name != NULL) {
        struct sockaddr_storage copy;
        socklen_t new_len;
        int absent;
        const struct sockaddr *name = (const struct sockaddr *)msg->msg_name;
        int saved = errno;
        const struct sockaddr *target =
            vpc_steer(fd, name, msg->msg_namelen, &copy, &new_len, &absent);
        errno = saved;
        if (absent == DROPPED) return msg_size(msg); /* dropped on the way */
        if (target != name) {
            struct msghdr steered = *msg;
            steered.msg_name = (void *)target;
            steered.msg_namelen = new_len;
            return real_sendmsg(fd, &steered, flags);
        }
    }
    return real_sendmsg(fd, msg, flags);
}

/* -- the VPC's private DNS names ---------------------------------------------- */

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res) {
    configure();
    if (!real_getaddrinfo) {
        errno = ENOSYS;
        return EAI_SYSTEM;
    }
    char numeric[16];
    int found = vpc_resolve(node, numeric);
    if (found < 0) return EAI_NONAME;
    return real_getaddrinfo(found ? numeric : node, service, hints, res);
}

EXPORT struct hostent *gethostbyname(const char *name) {
    configure();
    char numeric[16];
    int found = vpc_resolve(name, numeric);
    if (found < 0 || !real_gethostbyname) {
        h_errno = HOST_NOT_FOUND;
        return NULL;
    }
    return real_gethostbyname(found ? numeric : name);
}

EXPORT struct hostent *gethostbyname2(const char *name, int af) {
    configure();
    char numeric[16];
    int found = vpc_resolve(name, numeric);
    if (found < 0 || !real_gethostbyname2) {
        h_errno = HOST_NOT_FOUND;
        return NULL;
    }
    return real_gethostbyname2(found ? numeric : name, af);
}

EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                           struct hostent **result, int *h_errnop) {
    configure();
    char numeric[16];
    int found = vpc_resolve(name, numeric);
    if (found < 0 || !real_gethostbyname_r) {
        *result = NULL;
        *h_errnop = HOST_NOT_FOUND;
        return found < 0 ? 0 : ENOSYS;
    }
    return real_gethostbyname_r(found ? numeric : name, ret, buf, buflen, result, h_errnop);
}

EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                            size_t buflen, struct hostent **result, int *h_errnop) {
    configure();
    char numeric[16];
    int found = vpc_resolve(name, numeric);
    if (found < 0 || !real_gethostbyname2_r) {
        *result = NULL;
        *h_errnop = HOST_NOT_FOUND;
        return found < 0 ? 0 : ENOSYS;
    }
    return real_gethostbyname2_r(found ? numeric : name, af, ret, buf, buflen, result,
                                 h_errnop);
}
