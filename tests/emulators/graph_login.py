"""The Microsoft identity platform endpoints msal calls: discovery, token, device code."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.emulators.graph_tenant import App, Tenant, User

LOGIN = "https://login.microsoftonline.com"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
GRAPH_PREFIX = "https://graph.microsoft.com/"
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Grant:
    """What an access token stands for."""

    app: App
    user: User | None
    scopes: set[str]  # delegated scopes (scp) or application roles (roles)
    expires_at: float
    application: bool

    def allows(self, *needed: str) -> bool:
        return any(n in self.scopes for n in needed)


@dataclass
class DeviceFlow:
    app: App
    scopes: set[str]
    user_code: str
    expires_at: float
    user: User | None = None
    declined: bool = False


@dataclass
class Login:
    """Identity state: issued tokens, refresh tokens and pending device codes."""

    tenant: Tenant
    token_lifetime: int = 3599
    device_interval: int = 1
    tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    device_flows: dict[str, DeviceFlow] = field(default_factory=dict)

    # ---- knobs for tests -------------------------------------------------------------

    def approve(self, user_code: str, user: User) -> None:
        """The person at the browser enters the code and signs in as user."""
        for flow in self.device_flows.values():
            if flow.user_code == user_code:
                flow.user = user
                return
        raise KeyError(user_code)

    def decline(self, user_code: str) -> None:
        for flow in self.device_flows.values():
            if flow.user_code == user_code:
                flow.declined = True

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (refresh tokens stay valid)."""
        for grant in self.tokens.values():
            grant.expires_at = 0

    def issue(self, app: App, user: User | None, scopes: set[str]) -> str:
        """An access token for Graph, as if the app had signed in."""
        grant = Grant(app, user, set(scopes), time.time() + self.token_lifetime, user is None)
        claims = {
            "aud": "https://graph.microsoft.com",
            "tid": self.tenant.id,
            "appid": app.client_id,
            "oid": user.id if user else app.client_id,
            ("roles" if user is None else "scp"): sorted(scopes)
            if user is None
            else " ".join(sorted(scopes)),
            "jti": secrets.token_hex(8),
        }
        token = ".".join(
            [_b64json({"typ": "JWT", "alg": "RS256"}), _b64json(claims), secrets.token_urlsafe(32)]
        )
        self.tokens[token] = grant
        return token

    # ---- endpoints -------------------------------------------------------------------

    def resolve_tenant(self, name: str) -> str | None:
        if name.lower() in (self.tenant.id, self.tenant.domain.lower(), "organizations", "common"):
            return self.tenant.id if name.lower() not in ("organizations", "common") else name
        return None

    def openid_configuration(self, tenant: str) -> tuple[int, dict[str, Any]]:
        resolved = self.resolve_tenant(tenant)
        if resolved is None:
            return 400, self.error(
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud. Check with your subscription "
                "administrator, this may happen if there are no active subscriptions for the tenant.",
            )
        base = f"{LOGIN}/{resolved}"
        issuer_tenant = "{tenantid}" if resolved in ("organizations", "common") else resolved
        return 200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{LOGIN}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "name", "oid", "tid"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def instance_discovery(self, authorization_endpoint: str) -> dict[str, Any]:
        tenant = authorization_endpoint.split("/")[3] if authorization_endpoint else "common"
        return {
            "tenant_discovery_endpoint": f"{LOGIN}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [
                {
                    "preferred_network": "login.microsoftonline.com",
                    "preferred_cache": "login.windows.net",
                    "aliases": [
                        "login.microsoftonline.com",
                        "login.windows.net",
                        "login.microsoft.com",
                        "sts.windows.net",
                    ],
                }
            ],
        }

    def device_code(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.resolve_tenant(tenant) is None:
            return 400, self.error("invalid_request", 90002, f"Tenant '{tenant}' not found.")
        app = self.tenant.apps.get(form.get("client_id", ""))
        if app is None:
            return 400, self._unknown_app(form.get("client_id", ""))
        if not app.public_client:
            return 400, self.error(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'. Enable 'Allow public client flows' on the app registration.",
            )
        code = secrets.token_urlsafe(40)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        self.device_flows[code] = DeviceFlow(
            app, _scopes(form.get("scope", "")), user_code, time.time() + 900
        )
        return 200, {
            "user_code": user_code,
            "device_code": code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900,
            "interval": self.device_interval,
            "message": "To sign in, use a web browser to open the page "
            f"https://microsoft.com/devicelogin and enter the code {user_code} to authenticate.",
        }

    def token(self, tenant: str, form: dict[str, str], endpoint: str) -> tuple[int, dict[str, Any]]:
        if self.resolve_tenant(tenant) is None:
            return 400, self.error(
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        app = self.tenant.apps.get(form.get("client_id", ""))
        if app is None:
            return 400, self._unknown_app(form.get("client_id", ""))
        grant_type = form.get("grant_type", "")
        if grant_type == "client_credentials":
            return self._client_credentials(app, form, endpoint)
        if grant_type == DEVICE_GRANT:
            return self._device_grant(app, form)
        if grant_type == "refresh_token":
            return self._refresh(app, form)
        return 400, self.error(
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )

    # ---- grants ----------------------------------------------------------------------

    def _client_credentials(
        self, app: App, form: dict[str, str], endpoint: str
    ) -> tuple[int, dict[str, Any]]:
        problem = self._authenticate_client(app, form, endpoint)
        if problem is not None:
            return problem
        scopes = form.get("scope", "").split()
        if scopes != [GRAPH_DEFAULT]:
            return 400, self.error(
                "invalid_scope",
                1002012,
                f"The provided value for scope {' '.join(scopes)} is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        if not app.application_roles:
            return 400, self.error(
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{app.client_id}' named '{app.display_name}'. Send an interactive authorization "
                "request for this user and resource.",
                suberror="consent_required",
            )
        token = self.issue(app, None, app.application_roles)
        return 200, {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }

    def _authenticate_client(
        self, app: App, form: dict[str, str], endpoint: str
    ) -> tuple[int, dict[str, Any]] | None:
        if "client_secret" in form:
            if app.secret is None or form["client_secret"] != app.secret:
                return 401, self.error(
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    f"is the client secret value, not the client secret ID, for a secret added to "
                    f"app '{app.client_id}'.",
                )
            if app.secret_expired:
                return 401, self.error(
                    "invalid_client",
                    7000222,
                    f"The provided client secret keys for app '{app.client_id}' are expired. "
                    "Visit the Azure portal to create new keys for your app: "
                    "https://aka.ms/NewClientSecret, or consider using certificate credentials for "
                    "added security: https://aka.ms/certCreds.",
                )
            return None
        if form.get("client_assertion_type") == JWT_BEARER and "client_assertion" in form:
            return self._check_assertion(app, form["client_assertion"], endpoint)
        return 401, self.error(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )

    def _check_assertion(
        self, app: App, assertion: str, endpoint: str
    ) -> tuple[int, dict[str, Any]] | None:
        if app.certificate_pem is None:
            return 401, self.error(
                "invalid_client", 700027, "Client assertion contains an invalid signature."
            )
        cert = x509.load_pem_x509_certificate(app.certificate_pem)
        header = jwt.get_unverified_header(assertion)
        sha256 = _b64url(cert.fingerprint(hashes.SHA256()))
        sha1 = _b64url(cert.fingerprint(hashes.SHA1()))
        # base64url thumbprints, with or without padding
        given_256 = str(header.get("x5t#S256", "")).rstrip("=")
        given_1 = str(header.get("x5t", "")).rstrip("=")
        if given_256 != sha256 and given_1 != sha1:
            return 401, self.error(
                "invalid_client",
                700027,
                "Client assertion failed signature validation. The key was not found: the "
                "certificate thumbprint is not registered for this application.",
            )
        try:
            claims = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256", "PS256"],
                audience=endpoint,
                issuer=app.client_id,
            )
        except jwt.PyJWTError as exc:
            return 401, self.error(
                "invalid_client", 700027, f"Client assertion failed signature validation. {exc}"
            )
        if claims.get("sub") != app.client_id:
            return 401, self.error("invalid_client", 700023, "Invalid subject in client assertion.")
        return None

    def _device_grant(self, app: App, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        flow = self.device_flows.get(form.get("device_code", ""))
        if flow is None or flow.app is not app:
            return 400, self.error("invalid_grant", 70000, "The provided device code is invalid.")
        if flow.expires_at < time.time():
            return 400, self.error(
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            )
        if flow.declined:
            return 400, self.error("authorization_declined", 70016, "The user declined to sign in.")
        if flow.user is None:
            return 400, self.error(
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )
        wanted = {s for s in flow.scopes if s not in OIDC_SCOPES}
        missing = wanted - app.delegated_scopes
        if missing:
            return 400, self.error(
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{app.client_id}' named '{app.display_name}' for {', '.join(sorted(missing))}. "
                "Send an interactive authorization request for this user and resource.",
                suberror="consent_required",
            )
        del self.device_flows[form["device_code"]]
        return 200, self._user_tokens(app, flow.user, wanted)

    def _refresh(self, app: App, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
        if grant is None or grant.app is not app or grant.user is None:
            return 400, self.error(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. "
                "Send a new interactive authorization request for this user and resource.",
            )
        wanted = {s for s in _scopes(form.get("scope", "")) if s not in OIDC_SCOPES}
        # a refresh token can be redeemed for any scope the app has consent for
        missing = wanted - app.delegated_scopes
        if missing:
            self.refresh_tokens[form["refresh_token"]] = grant
            return 400, self.error(
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{app.client_id}' named '{app.display_name}' for {', '.join(sorted(missing))}. "
                "Send an interactive authorization request for this user and resource.",
                suberror="consent_required",
            )
        return 200, self._user_tokens(app, grant.user, wanted or grant.scopes)

    def _user_tokens(self, app: App, user: User, scopes: set[str]) -> dict[str, Any]:
        access = self.issue(app, user, scopes)
        refresh = secrets.token_urlsafe(48)
        self.refresh_tokens[refresh] = Grant(app, user, set(scopes), 0, False)
        now = int(time.time())
        id_claims = {
            "aud": app.client_id,
            "iss": f"{LOGIN}/{self.tenant.id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.mail,
            "sub": secrets.token_urlsafe(16),
            "tid": self.tenant.id,
            "ver": "2.0",
        }
        return {
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes) + ["openid", "profile", "email"]),
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": access,
            "refresh_token": refresh,
            # unsigned: msal reads the claims without validating a signature
            "id_token": f"{_b64json({'typ': 'JWT', 'alg': 'none'})}.{_b64json(id_claims)}.",
            "client_info": _b64json({"uid": user.id, "utid": self.tenant.id}),
        }

    # ---- errors ----------------------------------------------------------------------

    def _unknown_app(self, client_id: str) -> dict[str, Any]:
        return self.error(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{self.tenant.domain}'. This can happen if the application has not been installed "
            "by the administrator of the tenant or consented to by any user in the tenant.",
        )

    def error(
        self, error: str, code: int, description: str, suberror: str | None = None
    ) -> dict[str, Any]:
        trace = str(uuid.uuid4())
        body: dict[str, Any] = {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} "
            f"Correlation ID: {uuid.uuid4()} Timestamp: {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [code],
            "timestamp": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}",
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
            "error_uri": f"{LOGIN}/error?code={code}",
        }
        if suberror:
            body["suberror"] = suberror
        return body


def _scopes(raw: str) -> set[str]:
    return {s[len(GRAPH_PREFIX) :] if s.startswith(GRAPH_PREFIX) else s for s in raw.split()}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())
