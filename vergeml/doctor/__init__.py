"""``ml doctor``: find the images that hold a model back (docs/doctor.md).

The analysis runs on arrays (:class:`vergeml.doctor.audit_data.AuditData`):
cached backbone features, labels, splits and content digests. Nothing here
imports TensorFlow.
"""
