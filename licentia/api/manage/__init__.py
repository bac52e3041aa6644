"""The native REST management API under `/api/manage/v1` (management Part B).

A face only: every action calls the same admin service the CLI and the dashboard use. This
package adds what a face owns: Bearer-token authentication, isolation (another owner's objects
answer 404), capability checks (403), the `{code, message, fields}` error shape, cursors, and
the audit entry of each change with the token as actor.
"""

from __future__ import annotations

from licentia.api.manage.router import PREFIX, build_router

__all__ = ["PREFIX", "build_router"]
