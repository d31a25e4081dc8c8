"""S3: buckets and objects, streamed to disk and durable.

Layout (one concept per module; the service class is composed of per-group
handler mixins so each group lives in its own file):

- ``api.py``        ``S3Service``: composes the handler mixins below, owns the state
- ``common.py``     the mixins' shared base: bucket/version lookups, ids, owners
- ``errors.py``     S3's error codes, statuses and extra ``<Error>`` elements
- ``blobs.py``      object bytes on disk: streamed writes, fsync, atomic publish
- ``direct.py``     large files written and read around the page cache (O_DIRECT)
- ``composed.py``   multipart objects as their part files (no copy on complete)
- ``small.py``      small objects as database rows, committed with their metadata
- ``store.py``      metadata in SQLite: buckets, object versions, configuration
- ``buckets.py``    bucket operations (Create/Head/Delete/List/Location, versioning)
- ``objects.py``    object operations (Put/Get/Head/Delete(s), GetObjectAttributes)
- ``copy.py``       CopyObject
- ``restore.py``    RestoreObject, and the read rules for archived (GLACIER, DEEP_ARCHIVE) objects
- ``post.py``       POST policy uploads (browser forms), handed over by the gateway
- ``request_checks.py`` what S3 refuses by a request's shape alone, before parsing:
  sub-resources on bare bucket/key writes, ``partNumber``, encryption and checksum headers
- ``document_checks.py`` configuration documents: the bucket is looked up before the
  codec reads one, and an empty bucket policy is S3's MalformedPolicy
- ``conditions.py`` If-Match & co. and Range, with S3's precedence rules
- ``listing.py``    ListObjects v1/v2, ListObjectVersions
- ``multipart.py``  multipart uploads (``uploads.py``: their tables)
- ``checksums.py``  CRC32/CRC32C/CRC64NVME/SHA1/SHA256/MD5, full-object and composite
- ``bucket_policy.py`` the shape S3 checks in a bucket policy document before storing it
- ``config.py``     bucket configuration documents; the ones that act have their own
  modules: ``cors.py``, ``lifecycle.py`` (with ``transitions.py``),
  ``notifications.py``, ``objectlock.py``, ``public.py``, ``website.py``, ``mfa.py``
  (MFA delete: version deletes and versioning changes need ``x-amz-mfa``)
- ``replication.py`` bucket replication: the operations, the hooks on writes, and the
  durable queue whose worker writes replicas (``replication_rules.py``: the
  configuration's checks and which rule a version follows)
"""
