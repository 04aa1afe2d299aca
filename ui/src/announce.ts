/** Status messages for everyone: shown in the page and read out by screen readers (`aria-live`). */
let region: HTMLElement | null = null;

export type Tone = 'info' | 'success' | 'error';

export function announce(message: string, tone: Tone = 'info'): void {
  region ??= document.getElementById('status');
  if (!region) return;
  region.dataset.tone = tone;
  // Clearing first makes a repeated message announced again.
  region.textContent = '';
  window.setTimeout(() => {
    if (region) region.textContent = message;
  }, 30);
}

export function clearAnnouncement(): void {
  region ??= document.getElementById('status');
  if (region) region.textContent = '';
}
