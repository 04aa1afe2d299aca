import { describe, expect, test } from 'vitest';
import { redactUrls } from './redact-urls.js';

describe('redactUrls', () => {
  test.each([
    ['https://x-access-token:SEKRET123@example.invalid/repo.git?token=SEKRET456', 'https://***@example.invalid/repo.git?***'],
    ['https://user:SEK@RET@host/p.git', 'https://***@host/p.git'],
    ['https://host/p.git#SEKRET', 'https://host/p.git#***'],
    ['ssh://git:SEKRET@host:22/p.git', 'ssh://***@host:22/p.git'],
    ["fatal: unable to access 'https://u:SEKRET@host/p.git?t=SEKRET2': Could not resolve host", "fatal: unable to access 'https://***@host/p.git?***': Could not resolve host"],
    ['two: https://a:S1@h1/x and http://h2/y?k=S2 end', 'two: https://***@h1/x and http://h2/y?*** end'],
    ['https://github.com/acme/p.git', 'https://github.com/acme/p.git'],
    ['git@github.com:acme/p.git', 'git@github.com:acme/p.git'],
    ['/srv/git/p.git', '/srv/git/p.git'],
    ['no url here: a@b ?x', 'no url here: a@b ?x'],
    ['https://ci:AKIA/SeCrEt+Tok3n@git.example.test/acme/p.git', 'https://***@git.example.test/acme/p.git'],
    ["fatal: unable to access 'https://ci:AKIA/SeCrEt@git.example.test/p.git/': 403", "fatal: unable to access 'https://***@git.example.test/p.git/': 403"],
    ['https://u:a#b?c/d@host/p.git', 'https://***@host/p.git'],
  ])('%s', (text, redacted) => {
    expect(redactUrls(text)).toBe(redacted);
  });
});
