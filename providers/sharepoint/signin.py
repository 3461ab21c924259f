"""Sign-in to Microsoft Graph with msal: device code for staff, client credentials for admins."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msal
import requests

from cleanup.errors import AuthError, UsageError

from .settings import READ_SCOPES, WRITE_SCOPES, SharePointSettings

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


class RoutedSession(requests.Session):
    """A session that reaches the identity platform at another URL (a proxy or test double)."""

    def __init__(self, authority_host: str, login_url: str | None) -> None:
        super().__init__()
        self.authority_host = authority_host.rstrip("/")
        self.login_url = login_url.rstrip("/") if login_url else None

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        text = url.decode() if isinstance(url, bytes) else url
        if self.login_url and text.startswith(self.authority_host):
            text = self.login_url + text[len(self.authority_host) :]
        return super().request(method, text, *args, **kwargs)


def explain(
    result: dict[str, Any], settings: SharePointSettings, scopes: tuple[str, ...]
) -> AuthError:
    """Turn an identity-platform error into a message that says what to do."""
    codes = set(result.get("error_codes") or [])
    error = result.get("error", "")
    app = settings.client_id
    portal = "Entra admin center > App registrations"
    if 7000215 in codes:
        return AuthError(
            f"The client secret for app {app} is wrong. Copy the secret's Value (not its Secret ID) "
            f"from {portal} > Certificates & secrets and set sharepoint.client_secret again."
        )
    if 7000222 in codes:
        return AuthError(
            f"The client secret for app {app} has expired. Create a new secret in {portal} > "
            "Certificates & secrets and set sharepoint.client_secret, or use a certificate "
            "(sharepoint.certificate)."
        )
    if 700027 in codes or 700023 in codes:
        return AuthError(
            f"The certificate was refused for app {app}. Upload its public certificate in {portal} "
            "> Certificates & secrets, and check sharepoint.certificate holds the matching private key."
        )
    if 7000218 in codes:
        return AuthError(
            f"App {app} does not allow device-code sign-in. Turn on 'Allow public client flows' "
            f"in {portal} > Authentication, or sign in as an admin with a secret or certificate."
        )
    if 65001 in codes or result.get("suberror") == "consent_required":
        needed = ", ".join(scopes)
        return AuthError(
            f"App {app} has not been granted the permissions it needs ({needed}). An administrator "
            f"must grant admin consent in {portal} > API permissions, then try again."
        )
    if 700016 in codes or error == "unauthorized_client":
        return AuthError(
            f"App {app} does not exist in tenant {settings.tenant}. Check sharepoint.client_id and "
            "sharepoint.tenant."
        )
    if 90002 in codes or error == "invalid_tenant":
        return AuthError(_wrong_tenant(settings))
    if error in ("authorization_declined", "expired_token"):
        return AuthError("Sign-in was not completed. Run: cleanup login sharepoint")
    if error == "invalid_grant":
        return AuthError("Your SharePoint sign-in has expired. Run: cleanup login sharepoint")
    description = str(result.get("error_description", "")).split(" Trace ID:")[0]
    return AuthError(f"Sign-in to Microsoft 365 failed: {error}: {description}")


def _wrong_tenant(settings: SharePointSettings) -> str:
    return (
        f"Tenant {settings.tenant!r} was not found. Set sharepoint.tenant to your tenant ID or a "
        "domain of your organisation such as contoso.onmicrosoft.com."
    )


class Credentials:
    """Access tokens for Graph: cached, refreshed on demand, thread-safe."""

    def __init__(self, settings: SharePointSettings, write: bool = False) -> None:
        if not settings.client_id:
            raise UsageError(
                "No app registration configured for SharePoint. Register an app in the Entra admin "
                "center (App registrations > New registration, public client flows allowed; "
                "`cleanup providers` lists the permissions it needs), then give its client id "
                "and your tenant: --set "
                "sharepoint.client_id=ID --set sharepoint.tenant=contoso.onmicrosoft.com "
                "(env CLEANUP_SHAREPOINT_CLIENT_ID, CLEANUP_SHAREPOINT_TENANT)."
            )
        self.settings = settings
        self.write = write
        self.scopes = WRITE_SCOPES if write else READ_SCOPES
        self.session = RoutedSession(settings.authority_host, settings.login_url)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._app: msal.ClientApplication | None = None
        self._cache = msal.SerializableTokenCache()

    @property
    def authority(self) -> str:
        return f"{self.settings.authority_host}/{self.settings.tenant}"

    def _application(self) -> msal.ClientApplication:
        if self._app is not None:
            return self._app
        try:
            if self.settings.application:
                self._app = msal.ConfidentialClientApplication(
                    self.settings.client_id,
                    client_credential=self._client_credential(),
                    authority=self.authority,
                    http_client=self.session,
                )
            else:
                self._load_cache()
                self._app = msal.PublicClientApplication(
                    self.settings.client_id,
                    authority=self.authority,
                    http_client=self.session,
                    token_cache=self._cache,
                )
        except ValueError as exc:
            # msal raises ValueError when tenant discovery fails: an unknown tenant
            if "authority" in str(exc).lower() or "tenant" in str(exc).lower():
                raise AuthError(_wrong_tenant(self.settings)) from exc
            raise AuthError(f"Cannot set up sign-in: {exc}") from exc
        except requests.RequestException as exc:
            raise AuthError(f"Cannot reach {self.settings.authority_host}: {exc}") from exc
        return self._app

    def _client_credential(self) -> str | dict[str, str]:
        if self.settings.client_secret:
            return self.settings.client_secret
        assert self.settings.certificate is not None
        try:
            pem = Path(self.settings.certificate).expanduser().read_text()
        except OSError as exc:
            raise AuthError(
                f"Cannot read the certificate {self.settings.certificate}: {exc.strerror}"
            ) from exc
        if "PRIVATE KEY" not in pem or "CERTIFICATE" not in pem:
            raise AuthError(
                f"{self.settings.certificate} must hold both the private key and the certificate (PEM)."
            )
        return {"private_key": pem, "public_certificate": pem}

    # ---- staff token cache -------------------------------------------------------------

    def _load_cache(self) -> None:
        path = self.settings.cache_path
        if path.exists():
            self._cache.deserialize(path.read_text())

    def _save_cache(self) -> None:
        if self.settings.application or not self._cache.has_state_changed:
            return
        path = self.settings.cache_path
        path.parent.mkdir(parents=True, exist_ok=True)
        # written to a 0600 temporary file first: tokens are never readable by others
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".sharepoint-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(self._cache.serialize())
            os.replace(temp, path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        self._cache.has_state_changed = False

    # ---- tokens --------------------------------------------------------------------------

    def token(self) -> str:
        """A valid access token, from the cache when possible."""
        with self._lock:
            if self._token is None:
                self._token = self._acquire(force=False)
            return self._token

    def refresh(self, stale: str) -> str:
        """A new access token after Graph refused `stale` as expired."""
        with self._lock:
            if self._token == stale or self._token is None:
                self._token = self._acquire(force=True)
            return self._token

    def _acquire(self, force: bool) -> str:
        app = self._application()
        try:
            if isinstance(app, msal.ConfidentialClientApplication):
                if force:
                    # a fresh application has an empty cache, so msal asks for a new token
                    self._app = None
                    app = self._application()
                result = app.acquire_token_for_client(scopes=[GRAPH_DEFAULT])
            else:
                accounts = app.get_accounts()
                if not accounts:
                    raise AuthError("Not signed in to SharePoint. Run: cleanup login sharepoint")
                result = app.acquire_token_silent_with_error(
                    list(self.scopes), account=accounts[0], force_refresh=force
                )
                if result is None:
                    raise AuthError(
                        "Your SharePoint sign-in has expired. Run: cleanup login sharepoint"
                    )
        except requests.RequestException as exc:
            raise AuthError(f"Cannot reach {self.settings.authority_host}: {exc}") from exc
        finally:
            self._save_cache()
        if "access_token" not in result:
            raise explain(result, self.settings, self.scopes)
        return str(result["access_token"])

    # ---- interactive sign-in -------------------------------------------------------------

    def sign_in(
        self, say: Callable[[str], None], wait: Callable[[dict[str, Any]], bool] | None = None
    ) -> str:
        """Staff: the device-code flow; say() shows where to go and which code to enter."""
        if self.settings.application:
            self.token()
            return f"app {self.settings.client_id} (tenant {self.settings.tenant})"
        app = self._application()
        assert isinstance(app, msal.PublicClientApplication)
        flow = app.initiate_device_flow(scopes=list(self.scopes))
        if "user_code" not in flow:
            raise explain(flow, self.settings, self.scopes)
        say(str(flow["message"]))
        kwargs = {"exit_condition": wait} if wait is not None else {}
        result = app.acquire_token_by_device_flow(flow, **kwargs)
        self._save_cache()
        if "access_token" not in result:
            raise explain(result, self.settings, self.scopes)
        with self._lock:
            self._token = str(result["access_token"])
        claims = result.get("id_token_claims") or {}
        return str(claims.get("preferred_username") or claims.get("name") or "signed in")
