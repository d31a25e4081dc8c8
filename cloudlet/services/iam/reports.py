"""IAM's credential report: every user's credentials and their state, as a CSV.

GenerateCredentialReport starts a report (``STARTED``) that a background pass
(``_complete_reports``, every second) writes from the store moments later
(``COMPLETE``); a report stays current for four hours, after which
GenerateCredentialReport starts a new one and GetCredentialReport answers
``ReportExpired``. The columns and their ``N/A``/``no_information``/``not_supported``
values are those of the IAM user guide's "Getting credential reports". Access keys'
last use is what strict mode recorded since the server started (the authenticator
keeps it in memory); console sign-ins do not exist here, so ``password_last_used`` is
``no_information``. ``cert_1``/``cert_2`` are the user's signing certificates, oldest
first (``signing``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from cloudlet.core.errors import ServiceError
from cloudlet.services.iam.common import dt
from cloudlet.services.iam.signing import user_certificates
from cloudlet.services.iam.store import Doc

Result = dict[str, Any]
REPORT_LIFETIME = 4 * 3600
COLUMNS = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
).split(",")


def _time(epoch: float) -> str:
    """The report's times, to the second (``2014-08-14T22:45:43+00:00``), as AWS's."""
    return dt(epoch).replace(microsecond=0).isoformat()


class ReportHandlers:
    store: Any
    env: Any
    _now: Callable[[], float]

    def generate_credential_report(self, ctx: Any, params: dict[str, Any]) -> Result:
        account = ctx.account_id
        report = self.store.get("credential_report", account)
        now = self._now()
        if report is not None and report["State"] == "STARTED":
            return {"State": "INPROGRESS", "Description": "Report generation in progress"}
        if report is not None and now - report["GeneratedTime"] < REPORT_LIFETIME:
            return {"State": "COMPLETE"}
        self.store.put("credential_report", account, {"State": "STARTED", "Started": now})
        return {
            "State": "STARTED",
            "Description": "No report exists. Starting a new report generation task",
        }

    def get_credential_report(self, ctx: Any, params: dict[str, Any]) -> Result:
        report = self.store.get("credential_report", ctx.account_id)
        if report is None:
            raise ServiceError(
                "ReportNotPresent",
                "Credential report does not exist. Use GenerateCredentialReport to generate "
                "a credential report.",
                410,
            )
        if report["State"] == "STARTED":
            raise ServiceError("ReportInProgress", "Credential report is being generated.", 404)
        if self._now() - report["GeneratedTime"] >= REPORT_LIFETIME:
            raise ServiceError(
                "ReportExpired",
                "The credential report has expired. To generate a new credential report, "
                "use GenerateCredentialReport.",
                410,
            )
        return {
            "Content": report["Content"].encode(),
            "ReportFormat": "text/csv",
            "GeneratedTime": dt(report["GeneratedTime"]),
        }

    def _complete_reports(self) -> None:
        """The background pass: write every report that was started."""
        for account, report in list(self.store.data["credential_report"].items()):
            if report["State"] == "STARTED":
                now = self._now()
                content = self._report_csv(account, now)
                self.store.put(
                    "credential_report",
                    account,
                    {"State": "COMPLETE", "GeneratedTime": now, "Content": content},
                )

    # -- the CSV -----------------------------------------------------------------------

    def _report_csv(self, account: str, now: float) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerow(self._root_row(account, now))
        users = sorted(self.store.all("user", account), key=lambda u: u["UserName"])
        settings = self.store.get("account", account) or {}
        max_age = (settings.get("PasswordPolicy") or {}).get("MaxPasswordAge") or 0
        for user in users:
            writer.writerow(self._user_row(account, user, max_age))
        return out.getvalue()

    def _root_row(self, account: str, now: float) -> list[str]:
        settings = self.store.get("account", account) or {}
        created = settings.get("ReportRootCreated")
        if created is None:  # cloudlet keeps no account creation time: first report's
            settings = {"_key": account, **settings, "ReportRootCreated": now}
            self.store.put("account", account, settings)
            created = now
        credentials = self.env.credentials
        has_key = credentials is not None and credentials.root.account_id == account
        row = [
            "<root_account>",
            f"arn:aws:iam::{account}:root",
            _time(created),
            "not_supported",
            "no_information",
            "not_supported",
            "not_supported",
            "false",
            "true" if has_key else "false",
        ]
        row += ["N/A"] * 4 + ["false"] + ["N/A"] * 4 + ["false", "N/A", "false", "N/A"]
        return row

    def _user_row(self, account: str, user: Doc, max_age: int) -> list[str]:
        name = user["UserName"]
        profile = user.get("LoginProfile")
        row = [name, user["Arn"], _time(user["CreateDate"])]
        if profile:
            changed = profile.get("PasswordLastChanged", profile["CreateDate"])
            rotation = _time(changed + max_age * 86400) if max_age else "N/A"
            row += ["true", "no_information", _time(changed), rotation]
        else:
            row += ["false", "N/A", "N/A", "N/A"]
        mfa = any(d.get("User") == name for d in self.store.all("mfa_device", account))
        row.append("true" if mfa else "false")
        keys = sorted(
            (k for k in self.store.all("access_key", account) if k["UserName"] == name),
            key=lambda k: k["CreateDate"],
        )
        last_used = self.env.credentials.last_used if self.env.credentials is not None else {}
        for index in range(2):
            if index >= len(keys):
                row += ["false", "N/A", "N/A", "N/A", "N/A"]
                continue
            akey = keys[index]
            used = last_used.get(akey["AccessKeyId"])
            row += [
                "true" if akey["Status"] == "Active" else "false",
                _time(akey["CreateDate"]),
            ]
            row += [_time(used[0]), used[2] or "N/A", used[1]] if used else ["N/A"] * 3
        certs = user_certificates(self.store, account, name)
        for index in range(2):
            if index >= len(certs):
                row += ["false", "N/A"]
                continue
            cert = certs[index]
            row += ["true" if cert["Status"] == "Active" else "false", _time(cert["UploadDate"])]
        return row
