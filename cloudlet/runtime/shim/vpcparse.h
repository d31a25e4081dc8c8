/*
 * The words of the VPC address map's lines (vpcmap.c says what the lines mean), read
 * without allocating, locking or touching errno: safe wherever vpcmap.c's lookups
 * run. Each reader advances *p past what it read and answers 0 (nothing consumed
 * that matters) when the text is not what it expects. Nothing here is exported.
 */
#ifndef CLOUDLET_VPCPARSE_H
#define CLOUDLET_VPCPARSE_H

#include <stdint.h>

#include "vpcmap.h"

/* Spaces, tabs and carriage returns. */
HIDDEN void vp_skip_blanks(const char **p);

/* A decimal number of 1 to 3 digits no greater than max. */
HIDDEN int vp_number(const char **p, unsigned max, unsigned *out);

/* Four numbers 0-255 separated by sep; *out in host order. */
HIDDEN int vp_quad(const char **p, char sep, uint32_t *out);

/* word followed by a blank (skipped). */
HIDDEN int vp_keyword(const char **p, const char *word);

/* Nothing but blanks left. */
HIDDEN int vp_line_end(const char *p);

/* ASCII lower case. */
HIDDEN char vp_lower(char c);

/* "a.b.c.d/n" ending the line: the masked block (host order) and its mask. */
HIDDEN int vp_block(const char **p, uint32_t *net, uint32_t *mask);

/* " tcp 80 443" or " udp 53 53" ending the line: *udp, and the range packed as
 * first << 16 | last. */
HIDDEN int vp_port_range(const char **p, unsigned *udp, uint32_t *out);

#endif
