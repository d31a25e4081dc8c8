/*
 * The VPC address map of an instance, shared by bindshim.c and vpcmap.c (which says
 * why it exists). Nothing here is exported from the preloaded library: a program's
 * own symbols must never be interposed by ours.
 */
#ifndef CLOUDLET_VPCMAP_H
#define CLOUDLET_VPCMAP_H

#include <stdint.h>

#define HIDDEN __attribute__((visibility("hidden")))

enum vpc_verdict {
    VPC_PASS = 0,   /* not a VPC address: leave it alone */
    VPC_MAPPED = 1, /* a running instance of the VPC: its loopback address */
    VPC_ABSENT = 2  /* inside the VPC's blocks, held by no running instance */
};

/* Read CLOUDLET_VPC_ADDRESSES and CLOUDLET_VPC_DOMAIN (once; from the constructor). */
HIDDEN void vpc_configure(void);

/* Where the IPv4 address addr (network order) really is; *loopback (network order)
 * is set for VPC_MAPPED. Safe in any thread and in signal handlers; keeps errno. */
HIDDEN enum vpc_verdict vpc_route(uint32_t addr, uint32_t *loopback);

/* Whether the instance's security groups let a datagram (udp != 0) or a stream
 * connection to port (host order) of the VPC address addr (network order) through:
 * 1 unless the map guards addr ("guard" line) and none of its "allow" lines match.
 * Safe in any thread and in signal handlers; keeps errno. */
HIDDEN int vpc_permits(uint32_t addr, int udp, unsigned port);

/* A private DNS name of the instance's region ("ip-10-20-0-4.ec2.internal") or of a
 * domain the map names: 0 when name is not one, 1 with its dotted address in out, -1
 * when it does not resolve here (the VPC's DNS resolution or DNS hostnames turned off,
 * or the address in a peered VPC whose names this VPC may not resolve). */
HIDDEN int vpc_resolve(const char *name, char out[16]);

#endif
