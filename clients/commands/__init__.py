"""Sub-commands of ``notary`` that talk to a running service through the SDK (and the
auditor's offline ``audit``)."""
