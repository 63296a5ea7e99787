"""L13: model extraction, a GCG-style suffix attack, LM watermark detection."""
