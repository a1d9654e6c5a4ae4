import type { Context, Middleware } from 'koa'
import { ApiError } from '../api-error'
import { keysMatch } from '../config/api-key'
import { isLoopbackAddress } from './client-address'
import type { AppState } from './middleware'

/** The header a LAN client sends the admin key in (besides the API key in Authorization). */
export const ADMIN_KEY_HEADER = 'x-admin-key'

/**
 * Who may change the service: settings, the API key, the engine, pausing batches. The desktop window and
 * anything else on this machine reach the service over loopback and may; from the LAN it takes the admin key
 * (VBS_ADMIN_KEY) in `x-admin-key`, and without one configured the LAN cannot change anything. The API key is
 * checked before this: it is what lets a client in at all.
 */
export interface AdminAccess {
  isAdmin: (ctx: Context) => boolean
  /** Route middleware: 403 `admin_required` for anyone else. */
  require: Middleware<AppState>
}

export function adminAccess(adminKey: () => string | null): AdminAccess {
  const isAdmin = (ctx: Context): boolean => {
    if (isLoopbackAddress(ctx.req.socket.remoteAddress)) return true
    const expected = adminKey()
    const given = ctx.get(ADMIN_KEY_HEADER).trim()
    return expected !== null && given !== '' && keysMatch(given, expected)
  }
  const requireAdmin: Middleware<AppState> = async (ctx, next) => {
    if (!isAdmin(ctx)) {
      const message =
        adminKey() === null
          ? `Changing settings, the API key, the engine or pausing batches is only allowed on the machine that runs the service (its window, tray or loopback). To allow it from the LAN, start the service with VBS_ADMIN_KEY set (at least 32 characters) and send that key in the ${ADMIN_KEY_HEADER} header.`
          : ctx.get(ADMIN_KEY_HEADER) === ''
            ? `Changing settings, the API key, the engine or pausing batches from another machine needs the admin key: send VBS_ADMIN_KEY's value in the ${ADMIN_KEY_HEADER} header (with the API key in Authorization as usual), or do it on the machine that runs the service.`
            : `Incorrect admin key in the ${ADMIN_KEY_HEADER} header: it must be the service's VBS_ADMIN_KEY.`
      throw new ApiError(403, message, { code: 'admin_required' })
    }
    await next()
  }
  return { isAdmin, require: requireAdmin }
}
