"""Business logic of the notary service, below the HTTP routes and above ``notary``.

Routes parse and authorise; these modules do the work (ingest, anchoring, receipts,
reads, verification, provenance) against the database and the deployment.
"""
