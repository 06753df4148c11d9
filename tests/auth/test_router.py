"""The account endpoints over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_JWT_SECRET
from tests.factories import (
    API,
    DEFAULT_PASSWORD,
    create_user,
    latest_token,
    message_text,
    outbox_messages,
    signin,
    signup,
    signup_body,
)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    assert body["detail"]


class TestStart:
    async def test_unknown_email_asks_to_create_an_account(self, client: httpx.AsyncClient):
        response = await client.post(f"{API}/auth/start", json={"email": "new@example.com"})
        assert response.status_code == 200
        assert response.json() == {"exists": False, "next": "create_account"}

    async def test_known_email_asks_for_the_password_whatever_its_case(
        self, client: httpx.AsyncClient
    ):
        body = await signup(client, email="Known.Person@Example.com")
        response = await client.post(f"{API}/auth/start", json={"email": body["email"].upper()})
        assert response.json() == {"exists": True, "next": "password"}

    async def test_malformed_email_is_422(self, client: httpx.AsyncClient):
        response = await client.post(f"{API}/auth/start", json={"email": "not-an-email"})
        assert response.status_code == 422


class TestSignup:
    async def test_creates_an_unconfirmed_account_and_mails_a_link(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        body = signup_body(email="Mixed.Case@Example.com", username="Mixed_Case")
        response = await client.post(f"{API}/auth/signup", json=body)
        assert response.status_code == 201
        data = response.json()
        assert data["next"] == "confirm_email"
        assert set(data) == {"user_id", "next"}
        [mail] = outbox_messages(app)
        assert mail["To"] == "mixed.case@example.com"
        assert "Confirm" in mail["Subject"]
        text = message_text(mail)
        assert "http://frontend.test/confirm-email?token=" in text
        assert DEFAULT_PASSWORD not in text

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("password", "short"),
            ("username", "ab"),
            ("username", "has space"),
            ("username", "x" * 31),
            ("dob", (date.today() + timedelta(days=1)).isoformat()),
            ("dob", (date.today() - timedelta(days=365 * 12)).isoformat()),
            ("email", "nope"),
            ("full_name", ""),
        ],
    )
    async def test_invalid_fields_are_422_and_create_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, field: str, value: str
    ):
        body = signup_body(**{field: value})
        response = await client.post(f"{API}/auth/signup", json=body)
        assert response.status_code == 422, response.text
        assert outbox_messages(app) == []
        start = await client.post(f"{API}/auth/start", json={"email": "x@example.com"})
        assert start.json()["exists"] is False

    async def test_password_confirmation_must_match(self, client: httpx.AsyncClient):
        body = signup_body(confirm_password="something else entirely")
        response = await client.post(f"{API}/auth/signup", json=body)
        assert response.status_code == 422
        assert "do not match" in response.text

    async def test_password_may_not_be_the_username_or_email(self, client: httpx.AsyncClient):
        same_as_username = signup_body(username="longusername", password="LongUsername")
        response = await client.post(f"{API}/auth/signup", json=same_as_username)
        assert response.status_code == 422
        same_as_email = signup_body(email="someone@example.com", password="someone@example.com")
        response = await client.post(f"{API}/auth/signup", json=same_as_email)
        assert response.status_code == 422

    async def test_email_and_username_are_unique_ignoring_case(self, client: httpx.AsyncClient):
        await signup(client, email="taken@example.com", username="taken_name")
        again = signup_body(email="TAKEN@example.com")
        response = await client.post(f"{API}/auth/signup", json=again)
        assert_error(response, 409, "email_taken")
        again = signup_body(username="Taken_Name")
        response = await client.post(f"{API}/auth/signup", json=again)
        assert_error(response, 409, "username_taken")


class TestPasswordStrength:
    @pytest.mark.parametrize("password", ["password", "12345678", " " * 8, "qwertyuiop"])
    async def test_guessable_passwords_are_refused_everywhere(
        self, client: httpx.AsyncClient, app: FastAPI, password: str
    ):
        body = signup_body(password=password)
        response = await client.post(f"{API}/auth/signup", json=body)
        assert_error(response, 422, "weak_password")
        assert "too easy to guess" in response.json()["detail"]
        start = await client.post(f"{API}/auth/start", json={"email": body["email"]})
        assert start.json()["exists"] is False

    async def test_change_password_refuses_a_guessable_one(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        response = await client.post(
            f"{API}/auth/change-password",
            json={
                "current_password": user.password,
                "new_password": "password1",
                "confirm_password": "password1",
            },
            headers=user.headers,
        )
        assert_error(response, 422, "weak_password")
        await signin(client, user.email, user.password)


class TestConfirm:
    async def test_confirmation_grants_the_welcome_credits_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        body = await signup(client)
        token = latest_token(app, body["email"], "confirm-email")
        response = await client.post(f"{API}/auth/confirm", json={"token": token})
        assert response.json() == {"message": "Email confirmed"}
        again = await client.post(f"{API}/auth/confirm", json={"token": token})
        assert_error(again, 400, "invalid_token")

        tokens = await signin(client, body["email"])
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        balance = await client.get(f"{API}/credits/balance", headers=headers)
        assert balance.json() == {"credits": 10}
        ledger = (
            await client.get(f"{API}/credits/transactions?include_total=true", headers=headers)
        ).json()
        assert ledger["total"] == 1
        [row] = ledger["items"]
        assert row["delta"] == 10
        assert row["reason"] == "signup_bonus"
        assert row["balance_after"] == 10
        assert tokens["user"]["email_confirmed"] is True

    async def test_unknown_token_is_400(self, client: httpx.AsyncClient):
        response = await client.post(f"{API}/auth/confirm", json={"token": "made-up"})
        assert_error(response, 400, "invalid_token")
        response = await client.post(f"{API}/auth/confirm", json={"token": ""})
        assert response.status_code == 422

    async def test_resend_voids_the_previous_link(self, client: httpx.AsyncClient, app: FastAPI):
        body = await signup(client)
        first = latest_token(app, body["email"], "confirm-email")
        response = await client.post(
            f"{API}/auth/resend-confirmation", json={"email": body["email"]}
        )
        assert response.status_code == 200
        second = latest_token(app, body["email"], "confirm-email")
        assert second != first
        old = await client.post(f"{API}/auth/confirm", json={"token": first})
        assert_error(old, 400, "invalid_token")
        new = await client.post(f"{API}/auth/confirm", json={"token": second})
        assert new.status_code == 200

    async def test_resend_answers_the_same_for_unknown_addresses(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        known = await signup(client)
        answer_known = await client.post(
            f"{API}/auth/resend-confirmation", json={"email": known["email"]}
        )
        answer_unknown = await client.post(
            f"{API}/auth/resend-confirmation", json={"email": "ghost@example.com"}
        )
        assert answer_known.json() == answer_unknown.json()
        assert all(m["To"] != "ghost@example.com" for m in outbox_messages(app))


class TestSignin:
    async def test_returns_tokens_and_the_user_without_secrets(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app, email="Sign.In@Example.com")
        tokens = await signin(client, "SIGN.IN@example.com", user.password)
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 900
        assert tokens["user"]["email"] == "sign.in@example.com"
        assert "password_hash" not in tokens["user"]
        claims = jwt.decode(tokens["access_token"], TEST_JWT_SECRET, algorithms=["HS256"])
        assert claims["sub"] == user.id
        assert claims["type"] == "access"
        assert claims["exp"] - claims["iat"] == 900
        assert claims["sid"]

    async def test_unconfirmed_account_is_403(self, client: httpx.AsyncClient):
        body = await signup(client)
        response = await client.post(
            f"{API}/auth/signin", json={"email": body["email"], "password": body["password"]}
        )
        assert_error(response, 403, "email_not_confirmed")

    async def test_failures_do_not_say_which_part_was_wrong(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        wrong_password = await client.post(
            f"{API}/auth/signin", json={"email": user.email, "password": "not the password"}
        )
        unknown_email = await client.post(
            f"{API}/auth/signin", json={"email": "nobody@example.com", "password": "whatever1"}
        )
        assert_error(wrong_password, 401, "invalid_credentials")
        assert wrong_password.json() == unknown_email.json()

    async def test_missing_fields_are_422(self, client: httpx.AsyncClient):
        response = await client.post(f"{API}/auth/signin", json={"email": "a@example.com"})
        assert response.status_code == 422


class TestAccessTokens:
    async def test_me_returns_the_caller(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        response = await client.get(f"{API}/auth/me", headers=user.headers)
        assert response.status_code == 200
        assert response.json()["id"] == user.id
        assert response.json()["credits"] == 10

    async def test_no_token_is_401(self, client: httpx.AsyncClient):
        response = await client.get(f"{API}/auth/me")
        assert_error(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"] == "Bearer"

    async def _claims(self, client: httpx.AsyncClient, app: FastAPI) -> dict[str, object]:
        user = await create_user(app)
        claims: dict[str, object] = jwt.decode(
            user.access_token, TEST_JWT_SECRET, algorithms=["HS256"]
        )
        return claims

    async def test_alg_none_is_refused(self, client: httpx.AsyncClient, app: FastAPI):
        claims = await self._claims(client, app)
        forged = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
        response = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert_error(response, 401, "invalid_token")

    async def test_wrong_key_is_refused(self, client: httpx.AsyncClient, app: FastAPI):
        claims = await self._claims(client, app)
        forged = jwt.encode(claims, "another-secret-of-sufficient-length-000000", "HS256")
        response = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert_error(response, 401, "invalid_token")

    async def test_expired_token_is_refused(self, client: httpx.AsyncClient, app: FastAPI):
        claims = await self._claims(client, app)
        past = datetime.now(UTC) - timedelta(hours=1)
        claims.update(iat=int(past.timestamp()) - 900, exp=int(past.timestamp()))
        expired = jwt.encode(claims, TEST_JWT_SECRET, "HS256")
        response = await client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {expired}"}
        )
        assert_error(response, 401, "invalid_token")

    async def test_a_token_accepted_before_is_refused_once_it_expires(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        claims = await self._claims(client, app)
        expires = int(time.time()) + 2
        claims.update(iat=expires - 900, exp=expires)
        token = jwt.encode(claims, TEST_JWT_SECRET, "HS256")
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get(f"{API}/auth/me", headers=headers)).status_code == 200
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
        assert_error(await client.get(f"{API}/auth/me", headers=headers), 401, "invalid_token")

    async def test_tampered_payload_is_refused(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        other = await create_user(app)
        header, _, signature = user.access_token.split(".")
        other_payload = other.access_token.split(".")[1]
        spliced = f"{header}.{other_payload}.{signature}"
        response = await client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {spliced}"}
        )
        assert_error(response, 401, "invalid_token")

    async def test_refresh_token_is_not_an_access_token(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        response = await client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {user.refresh_token}"}
        )
        assert_error(response, 401, "invalid_token")

    async def test_token_of_another_type_is_refused(self, client: httpx.AsyncClient, app: FastAPI):
        claims = await self._claims(client, app)
        claims["type"] = "refresh"
        other_type = jwt.encode(claims, TEST_JWT_SECRET, "HS256")
        response = await client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {other_type}"}
        )
        assert_error(response, 401, "invalid_token")


class TestRefresh:
    async def test_rotates_the_refresh_token(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        response = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": user.refresh_token}
        )
        assert response.status_code == 200
        tokens = response.json()
        assert tokens["refresh_token"] != user.refresh_token
        me = await client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 200
        again = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert again.status_code == 200

    async def test_reusing_a_rotated_token_revokes_the_session(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        rotated = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": user.refresh_token}
        )
        fresh = rotated.json()
        replay = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": user.refresh_token}
        )
        assert_error(replay, 401, "refresh_token_reused")
        # The thief's replay ended the session for the legitimate holder too.
        legit = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
        )
        assert_error(legit, 401, "invalid_refresh_token")
        me = await client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}
        )
        assert_error(me, 401, "session_revoked")

    @pytest.mark.parametrize("token", ["garbage", "no-dot-here", "abc.def", "." * 5])
    async def test_unknown_tokens_are_401(self, client: httpx.AsyncClient, token: str):
        response = await client.post(f"{API}/auth/refresh", json={"refresh_token": token})
        assert_error(response, 401, "invalid_refresh_token")

    async def test_missing_body_is_422(self, client: httpx.AsyncClient):
        response = await client.post(f"{API}/auth/refresh", json={})
        assert response.status_code == 422


class TestLogoutAndSessions:
    async def test_logout_ends_access_and_refresh_at_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        response = await client.post(f"{API}/auth/logout", headers=user.headers)
        assert response.status_code == 204
        me = await client.get(f"{API}/auth/me", headers=user.headers)
        assert_error(me, 401, "session_revoked")
        refresh = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": user.refresh_token}
        )
        assert_error(refresh, 401, "invalid_refresh_token")

    async def test_lists_sessions_with_the_current_one_marked(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        await signin(client, user.email, user.password, **{"User-Agent": "PhoneApp/1.0"})
        response = await client.get(f"{API}/auth/sessions", headers=user.headers)
        assert response.status_code == 200
        sessions = response.json()
        assert len(sessions) == 2
        assert sum(s["current"] for s in sessions) == 1
        assert {s["user_agent"] for s in sessions} >= {"PhoneApp/1.0"}
        assert all("refresh" not in key for s in sessions for key in s)

    async def test_deleting_a_session_signs_it_out(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        phone = await signin(client, user.email, user.password)
        sessions = (await client.get(f"{API}/auth/sessions", headers=user.headers)).json()
        [other] = [s for s in sessions if not s["current"]]
        response = await client.delete(f"{API}/auth/sessions/{other['id']}", headers=user.headers)
        assert response.status_code == 204
        me = await client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {phone['access_token']}"}
        )
        assert_error(me, 401, "session_revoked")
        again = await client.delete(f"{API}/auth/sessions/{other['id']}", headers=user.headers)
        assert_error(again, 404, "not_found")

    async def test_another_users_session_is_404_and_untouched(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        alice = await create_user(app)
        bob = await create_user(app)
        [bobs] = (await client.get(f"{API}/auth/sessions", headers=bob.headers)).json()
        response = await client.delete(f"{API}/auth/sessions/{bobs['id']}", headers=alice.headers)
        assert_error(response, 404, "not_found")
        assert (await client.get(f"{API}/auth/me", headers=bob.headers)).status_code == 200

    async def test_delete_all_keeps_only_the_current_session(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        others = [await signin(client, user.email, user.password) for _ in range(2)]
        response = await client.delete(f"{API}/auth/sessions", headers=user.headers)
        assert response.json() == {"revoked": 2}
        for tokens in others:
            me = await client.get(
                f"{API}/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
            assert me.status_code == 401
        assert (await client.get(f"{API}/auth/me", headers=user.headers)).status_code == 200


class TestPasswordReset:
    async def test_forgot_answers_the_same_for_unknown_addresses(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        known = await client.post(f"{API}/auth/forgot-password", json={"email": user.email})
        unknown = await client.post(
            f"{API}/auth/forgot-password", json={"email": "ghost@example.com"}
        )
        assert known.status_code == unknown.status_code == 200
        assert known.json() == unknown.json()
        assert all(m["To"] != "ghost@example.com" for m in outbox_messages(app))

    async def test_reset_sets_the_password_and_ends_every_session(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        await client.post(f"{API}/auth/forgot-password", json={"email": user.email})
        token = latest_token(app, user.email, "reset-password")
        new_password = "a brand new secret"
        response = await client.post(
            f"{API}/auth/reset-password",
            json={"token": token, "password": new_password, "confirm_password": new_password},
        )
        assert response.status_code == 200
        assert (await client.get(f"{API}/auth/me", headers=user.headers)).status_code == 401
        old = await client.post(
            f"{API}/auth/signin", json={"email": user.email, "password": user.password}
        )
        assert_error(old, 401, "invalid_credentials")
        await signin(client, user.email, new_password)
        reused = await client.post(
            f"{API}/auth/reset-password",
            json={
                "token": token,
                "password": "yet another one",
                "confirm_password": "yet another one",
            },
        )
        assert_error(reused, 400, "invalid_token")

    async def test_reset_refuses_a_weak_or_mismatched_password(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        await client.post(f"{API}/auth/forgot-password", json={"email": user.email})
        token = latest_token(app, user.email, "reset-password")
        mismatch = await client.post(
            f"{API}/auth/reset-password",
            json={"token": token, "password": "one password", "confirm_password": "another"},
        )
        assert mismatch.status_code == 422
        weak = await client.post(
            f"{API}/auth/reset-password",
            json={"token": token, "password": user.email, "confirm_password": user.email},
        )
        assert_error(weak, 422, "weak_password")
        guessable = await client.post(
            f"{API}/auth/reset-password",
            json={"token": token, "password": "12345678", "confirm_password": "12345678"},
        )
        assert_error(guessable, 422, "weak_password")
        # Refused attempts change nothing and leave the link usable for an accepted password.
        await signin(client, user.email, user.password)
        accepted = await client.post(
            f"{API}/auth/reset-password",
            json={
                "token": token,
                "password": "fresh password 42",
                "confirm_password": "fresh password 42",
            },
        )
        assert accepted.status_code == 200, accepted.text
        await signin(client, user.email, "fresh password 42")
        spent = await client.post(
            f"{API}/auth/reset-password",
            json={
                "token": token,
                "password": "fresh password 43",
                "confirm_password": "fresh password 43",
            },
        )
        assert_error(spent, 400, "invalid_token")

    async def test_unknown_reset_token_is_400(self, client: httpx.AsyncClient):
        response = await client.post(
            f"{API}/auth/reset-password",
            json={"token": "nope", "password": "long enough", "confirm_password": "long enough"},
        )
        assert_error(response, 400, "invalid_token")


class TestChangePassword:
    async def test_changes_it_and_signs_out_other_sessions(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        other = await signin(client, user.email, user.password)
        response = await client.post(
            f"{API}/auth/change-password",
            headers=user.headers,
            json={
                "current_password": user.password,
                "new_password": "fresh password 42",
                "confirm_password": "fresh password 42",
            },
        )
        assert response.status_code == 200
        assert (await client.get(f"{API}/auth/me", headers=user.headers)).status_code == 200
        me_other = await client.get(
            f"{API}/auth/me", headers={"Authorization": f"Bearer {other['access_token']}"}
        )
        assert me_other.status_code == 401
        await signin(client, user.email, "fresh password 42")

    async def test_wrong_current_password_is_400(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        response = await client.post(
            f"{API}/auth/change-password",
            headers=user.headers,
            json={
                "current_password": "not it at all",
                "new_password": "fresh password 42",
                "confirm_password": "fresh password 42",
            },
        )
        assert_error(response, 400, "wrong_password")
        await signin(client, user.email, user.password)

    async def test_needs_a_token(self, client: httpx.AsyncClient):
        response = await client.post(
            f"{API}/auth/change-password",
            json={"current_password": "a", "new_password": "b" * 8, "confirm_password": "b" * 8},
        )
        assert_error(response, 401, "not_authenticated")


class TestCheckUsername:
    async def test_reports_availability(self, client: httpx.AsyncClient):
        await signup(client, username="already_here")
        taken = await client.get(f"{API}/auth/check-username/Already_Here")
        assert taken.json() == {"username": "already_here", "valid": True, "available": False}
        free = await client.get(f"{API}/auth/check-username/free_name")
        assert free.json() == {"username": "free_name", "valid": True, "available": True}
        invalid = await client.get(f"{API}/auth/check-username/no!")
        assert invalid.json()["valid"] is False
