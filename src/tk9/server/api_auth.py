"""``/api/auth``: sign in (a login cookie for the dashboard), sign out, and who am I.

Scripts do not sign in: they send ``Authorization: Bearer TOKEN`` with a token from
``tk9 tokens create NAME``. The cookie is HttpOnly (page scripts never see it), SameSite=Lax
(other sites' forms do not carry it) and Secure whenever the request arrived over TLS.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tk9.accounts.store import MAX_PASSWORD
from tk9.errors import Conflict, Unauthorized
from tk9.server.auth import COOKIE, credentials, current_user
from tk9.server.context import Ctx

router = APIRouter(prefix="/api/auth")


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class Me(BaseModel):
    username: str
    admin: bool
    auth: Literal["accounts", "none"]


@router.post(
    "/login",
    status_code=204,
    responses={
        401: {"description": "wrong credentials"},
        429: {"description": "too many attempts from this address"},
    },
)
async def login(body: Login, request: Request, ctx: Ctx) -> Response:
    """Check the password; on success set the login cookie."""
    if ctx.settings.auth == "none" or ctx.users is None:
        raise Conflict("accounts are off (TK9_AUTH=none): there is nothing to sign in to")
    users = ctx.users
    if ctx.limits is not None:  # before the (deliberately slow) hash
        await ctx.limits.login_attempt(request.client.host if request.client else "unknown")
    user = await asyncio.to_thread(users.verify_password, body.username, body.password)
    if user is None:
        raise Unauthorized("wrong user name or password")
    ttl = ctx.settings.login_ttl
    token = await asyncio.to_thread(
        users.create_token, user.username, "cookie", ctx.clock.wall() + ttl
    )
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ttl),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", status_code=204)
async def logout(request: Request, ctx: Ctx) -> Response:
    """Forget the login cookie (server side too). Signing out twice is fine."""
    token, how = credentials(request.scope)
    if token and how == "cookie" and ctx.users is not None:
        await asyncio.to_thread(ctx.users.revoke_token, token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/me", responses={401: {"description": "not signed in"}})
async def me(request: Request, ctx: Ctx) -> Me:
    """The signed-in user (the local admin under ``TK9_AUTH=none``)."""
    user = current_user(request)
    return Me(username=user.username, admin=user.admin, auth=ctx.settings.auth)
