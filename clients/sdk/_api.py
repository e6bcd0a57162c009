"""The API surface, written once for both clients.

Each method builds an operation (:mod:`clients.sdk._core`) and hands it to
``self._run``: :class:`~clients.sdk.client.NotaryClient` runs it and returns the
result, :class:`~clients.sdk.aio.AsyncNotaryClient` returns an awaitable of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clients.sdk import _core as core
from clients.sdk._verify import Verifier, fingerprint_of
from notary.crypto import SM2PublicKey, sm3_file


def _params(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


class ApiMethods:
    """Methods shared by the sync and the async client (see each client's docs)."""

    verifier: Verifier

    def _setup_verifier(
        self, verify: bool, log_key: SM2PublicKey | str | bytes | None, rpc_url: str | None
    ) -> None:
        self.verifier = Verifier(
            enabled=verify,
            log_key_fingerprint=None if log_key is None else fingerprint_of(log_key),
            rpc_url=rpc_url,
            pinned_explicitly=log_key is not None,
        )

    def _run(self, op: core.Op) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    # service ---------------------------------------------------------------------------
    def health(self) -> Any:
        return self._run(core.get_json("/v1/health"))

    def chain_info(self) -> Any:
        """Chain id, contract, log id and the embedded chain's read-only RPC URL."""
        return self._run(core.get_json("/v1/chain"))

    # read grants (在线阅档) ---------------------------------------------------------------
    def apply_read_grant(
        self, volume_ids: list[str], categories: list[str], purpose: str, expires_at: str
    ) -> Any:
        body = {
            "volume_ids": volume_ids,
            "categories": categories,
            "purpose": purpose,
            "expires_at": expires_at,
        }
        return self._run(core.send_json("POST", "/v1/read-grants", body))

    def list_read_grants(self, state: str | None = None) -> Any:
        return self._run(core.get_json("/v1/read-grants", _params(state=state)))

    def decide_read_grant(self, grant_id: str, action: str, reason: str | None = None) -> Any:
        """``action``: approve, refuse (with an optional reason) or revoke."""
        body = {"reason": reason} if action == "refuse" and reason else None
        return self._run(core.send_json("POST", f"/v1/read-grants/{grant_id}/{action}", body))

    # units, volumes, materials ---------------------------------------------------------
    def list_units(self, limit: int | None = None, offset: int | None = None) -> Any:
        return self._run(core.get_json("/v1/units", _params(limit=limit, offset=offset)))

    def list_volumes(self, limit: int | None = None, offset: int | None = None) -> Any:
        return self._run(core.get_json("/v1/volumes", _params(limit=limit, offset=offset)))

    def create_volume(
        self, cadre_identifier: str, kind: str = "main", cadre_name: str | None = None
    ) -> Any:
        body = _params(cadre_identifier=cadre_identifier, kind=kind, cadre_name=cadre_name)
        return self._run(core.send_json("POST", "/v1/volumes", body))

    def lookup_volumes(
        self, *, cadre_identifier: str | None = None, cadre_name: str | None = None
    ) -> Any:
        """The caller's unit's volumes of one cadre, by identifier or by 姓名 (exactly
        one; sent in the body, never in the URL)."""
        body = _params(cadre_identifier=cadre_identifier, cadre_name=cadre_name)
        return self._run(core.send_json("POST", "/v1/volumes/lookup", body))

    def set_cadre_name(self, volume_id: str, cadre_name: str | None) -> Any:
        """Set or correct the cadre's 姓名 of a volume the caller's unit holds (None
        removes it)."""
        body = {"cadre_name": cadre_name}
        return self._run(core.send_json("PUT", f"/v1/volumes/{volume_id}/cadre-name", body))

    def get_volume(self, volume_id: str) -> Any:
        return self._run(core.get_json(f"/v1/volumes/{volume_id}"))

    def volume_materials(self, volume_id: str, all_versions: bool = False) -> Any:
        params = {"all_versions": "true"} if all_versions else None
        return self._run(core.get_json(f"/v1/volumes/{volume_id}/materials", params))

    def upload_material(
        self,
        volume_id: str,
        file: str | Path,
        *,
        category: str,
        seq_no: int,
        pages: int,
        title: str,
        formation_date: str,
        supersedes: str | None = None,
    ) -> Any:
        """Upload a material; returns :class:`Uploaded`. The SM3 is computed here and
        sent as ``X-Content-SM3``, so the service refuses bytes altered on the way."""
        return self._run(
            core.upload(
                self.verifier,
                volume_id,
                Path(file),
                category=category,
                seq_no=seq_no,
                pages=pages,
                title=title,
                formation_date=formation_date,
                supersedes=supersedes,
            )
        )

    def get_material(self, material_id: str) -> Any:
        return self._run(core.get_json(f"/v1/materials/{material_id}"))

    def receipt(self, material_id: str, *, wait: float = 0.0) -> Any:
        """The evidence receipt (:class:`ReceiptResult`), verified on the client; with
        ``wait`` seconds, poll until it is anchored."""
        return self._run(core.receipt(self.verifier, str(material_id), wait=wait))

    def download(self, material_id: str, purpose: str, *, wait: float = 5.0) -> Any:
        """Read a material (利用, recorded in the read log); returns :class:`Download`
        after checking the content's SM3 and its receipt on the client."""
        return self._run(core.download(self.verifier, str(material_id), purpose, wait=wait))

    # verify ----------------------------------------------------------------------------
    def verify_sm3(self, sm3_hex: str) -> Any:
        """What the service knows of a material by its SM3 (registrations, receipts)."""
        return self._run(core.verify_by_sm3(self.verifier, sm3_hex))

    def verify_file(self, file: str | Path) -> Any:
        """Hash the file here and ask by SM3: the file itself never leaves the client."""
        return self.verify_sm3(sm3_file(Path(file)).hex())

    def verify_receipt(
        self, receipt: bytes | str | dict[str, Any], sm3_hex: str | None = None
    ) -> Any:
        """The service's own check of a receipt against its chain (see also
        :meth:`check_receipt`, which needs no service). A receipt file's bytes are sent
        as they are, so the service's strict reader sees a repeated key that
        ``json.load`` would have dropped."""
        return self._run(core.verify_receipt_remotely(receipt, sm3_hex))

    def check_receipt(
        self, receipt: bytes | str | dict[str, Any], sm3_hex: str | None = None
    ) -> Any:
        """Verify a receipt on the client (pinned log key, optional chain check). Give
        the receipt's bytes (a file's content) so that duplicate keys are caught; a
        missing or null ``anchor`` is a ``format`` failure."""
        return self._run(core.verify_receipt_locally(self.verifier, receipt, sm3_hex))

    # provenance and the log ------------------------------------------------------------
    def volume_provenance(self, volume_id: str) -> Any:
        return self._run(core.get_json(f"/v1/volumes/{volume_id}/provenance"))

    def material_provenance(self, material_id: str) -> Any:
        return self._run(core.get_json(f"/v1/materials/{material_id}/provenance"))

    def checkpoints(
        self, anchored: bool | None = None, limit: int | None = None, offset: int | None = None
    ) -> Any:
        anchored_param = None if anchored is None else str(anchored).lower()
        params = _params(anchored=anchored_param, limit=limit, offset=offset)
        return self._run(core.get_json("/v1/log/checkpoints", params))

    def latest_checkpoint(self, anchored: bool = False) -> Any:
        params = {"anchored": "true"} if anchored else None
        return self._run(core.get_json("/v1/log/checkpoints/latest", params))

    def inclusion(self, leaf_index: int, tree_size: int) -> Any:
        params = {"leaf_index": leaf_index, "tree_size": tree_size}
        return self._run(core.get_json("/v1/log/inclusion", params))

    def consistency(self, first: int, second: int) -> Any:
        return self._run(core.get_json("/v1/log/consistency", {"first": first, "second": second}))

    # peer archive centres -----------------------------------------------------------
    def add_peer(self, code: str, url: str) -> Any:
        """Trust another centre (its keys are read from it and checked on chain)."""
        return self._run(core.send_json("POST", "/v1/transfers/peers", {"code": code, "url": url}))

    def list_peers(self) -> Any:
        return self._run(core.get_json("/v1/transfers/peers"))

    # transfers (转递) ------------------------------------------------------------------
    def create_transfer(
        self,
        *,
        transfer_no: str,
        volume_ids: list[str],
        receiver: str,
        reason: str,
        classification: str | None = None,
        transfer_id: str | None = None,
    ) -> Any:
        """Create a transfer: the notice (转递通知单)."""
        body = _params(
            transfer_no=transfer_no,
            volume_ids=[str(v) for v in volume_ids],
            receiver=receiver,
            reason=reason,
            classification=classification,
            transfer_id=transfer_id,
        )
        return self._run(core.send_json("POST", "/v1/transfers", body))

    def list_transfers(self, role: str | None = None, state: str | None = None) -> Any:
        """The caller's transfers; ``role`` is ``incoming`` or ``outgoing``."""
        return self._run(core.get_json("/v1/transfers", _params(role=role, state=state)))

    def pending_transfers(self) -> Any:
        return self._run(core.get_json("/v1/transfers/pending"))

    def overdue_transfers(self) -> Any:
        return self._run(core.get_json("/v1/transfers/overdue"))

    def get_transfer(self, transfer_id: str) -> Any:
        return self._run(core.get_json(f"/v1/transfers/{transfer_id}"))

    def display(self) -> Any:
        """GET /v1/display: the deployment's time zone and its label for staff."""
        return self._run(core.get_json("/v1/display"))

    def remind(self, transfer_id: str, note: str | None = None) -> Any:
        """POST /v1/transfers/{id}/reminders (催办): the sender chases an overdue transfer."""
        body = {} if note is None else {"note": note}
        return self._run(core.send_json("POST", f"/v1/transfers/{transfer_id}/reminders", body))

    def transfer_timeline(self, transfer_id: str) -> Any:
        return self._run(core.get_json(f"/v1/transfers/{transfer_id}/timeline"))

    def transfer_action(self, transfer_id: str, action: str, body: Any = None) -> Any:
        """POST /v1/transfers/{id}/{action}: package, dispatch, deliver, verify, receipt,
        rejection, return, recall, sync, resend (body ``{transfer_no?, transfer_id?}``;
        answers the new transfer)."""
        return self._run(core.send_json("POST", f"/v1/transfers/{transfer_id}/{action}", body))

    def transfer_report(self, transfer_id: str) -> Any:
        """The receiver's verification report (四性 per material)."""
        return self._run(core.get_json(f"/v1/transfers/{transfer_id}/report"))

    def register_incoming(
        self, dispatch: dict[str, Any], chain_volumes: dict[str, str], package_cid: str | None
    ) -> Any:
        """Take in a dispatch from another deployment (checked against the chain)."""
        body = {"dispatch": dispatch, "chain_volumes": chain_volumes, "package_cid": package_cid}
        return self._run(core.send_json("POST", "/v1/transfers/incoming", body))

    def download_package(self, transfer_id: str, dest: str | Path) -> Any:
        """Stream the transfer's BagIt package (tar, 机要 offline delivery) into ``dest``."""
        return self._run(core.download_package(transfer_id, Path(dest)))

    def download_transfer_form(
        self,
        transfer_id: str,
        form: str,
        dest: str | Path,
        *,
        cadre_name: str | None = None,
        handler: str | None = None,
    ) -> Any:
        """A transfer's form as A4 PDF: ``notice`` (转递通知单), ``list`` (转递材料目录),
        ``receipt`` (回执) or ``rejection`` (退回单); the notice with the cadre's name and
        the 经办人 printed on it if given (rendered, never stored)."""
        path = f"/v1/transfers/{transfer_id}/forms/{form}.pdf"
        fill = {k: v for k, v in (("cadre_name", cadre_name), ("handler", handler)) if v}
        return self._run(core.download_pdf(path, Path(dest), fill))

    def download_evidence_form(self, material_id: str, dest: str | Path) -> Any:
        """A material's 存证证明 (its evidence receipt in human form) as A4 PDF."""
        return self._run(core.download_pdf(f"/v1/materials/{material_id}/evidence.pdf", Path(dest)))

    def import_package(self, transfer_id: str, path: str | Path) -> Any:
        """Deliver a transfer offline: upload the package file received by 机要."""
        return self._run(core.import_package(transfer_id, Path(path)))
