/** Copying text to the clipboard, in a secure context and on plain http on the LAN alike. */

/** Copies text; falls back to a hidden textarea where the Clipboard API is missing (plain http on the LAN). */
export async function copyText(text: string): Promise<void> {
  // navigator.clipboard exists only in a secure context (https, localhost): not on http://workstation:4080.
  if (typeof navigator.clipboard?.writeText === 'function') {
    await navigator.clipboard.writeText(text)
    return
  }
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
  area.style.position = 'fixed'
  area.style.opacity = '0'
  document.body.append(area)
  area.select()
  const ok = document.execCommand('copy')
  area.remove()
  if (!ok) throw new Error('The browser did not allow copying: select the text and copy it by hand.')
}
