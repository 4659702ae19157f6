"""X12 837/835 ingestion (pyx12) and X12 writing for the simulator. See docs/x12.md.

Public API:
    ingest(claim_paths, remit_paths) -> IngestResult     read, label, join
    write_outputs(result, out) -> dict of paths           tables, errors, summary
    write_837p(claims, path) / write_835(claims, path)    contract table -> X12 files
    validate_file(path) -> (ok, messages)                 pyx12's guide validation
"""

from denial_risk.x12.guide_check import validate_file
from denial_risk.x12.ingest import IngestResult, ingest, write_outputs
from denial_risk.x12.write import write_835, write_837p

__all__ = ["IngestResult", "ingest", "write_outputs", "write_837p", "write_835", "validate_file"]
