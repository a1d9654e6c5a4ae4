// Which PNGs make a tray icon. Pure: tray.ts reads the files and builds the NativeImage.
import path from 'node:path'
import type { TrayState } from './tray-menu'

/** One representation of an icon: a file in resources/tray/ and the scale factor it is drawn for. */
export interface IconRepresentation {
  file: string
  scaleFactor: number
}

/**
 * The files are 32x32 (`<state>.png`) and 64x64 (`<state>@2x.png`). Linux panels take the pixels as they are
 * and scale them to the panel, so 32 px is the 1x image there. macOS menu bars and Windows' notification area
 * lay icons out at 16 points/DIPs, so the 32 px image is their 2x and the 64 px one their 4x.
 */
export function trayIconRepresentations(dir: string, state: TrayState, platform: NodeJS.Platform): IconRepresentation[] {
  const small = path.join(dir, `${state}.png`)
  const large = path.join(dir, `${state}@2x.png`)
  return platform === 'linux'
    ? [
        { file: small, scaleFactor: 1 },
        { file: large, scaleFactor: 2 },
      ]
    : [
        { file: small, scaleFactor: 2 },
        { file: large, scaleFactor: 4 },
      ]
}
