// Entry point. The capability probe starts before the first render so that the worker and the
// adapter request overlap with React's start-up.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { useDemo } from './ui/demos/demoStore';
import { startRunRecording } from './ui/history/runRecording';
import { App } from './ui/shell/App';
import { registerServiceWorker } from './ui/shell/registerServiceWorker';
import { useStudio } from './ui/shell/store';
import { readLink, startUrlSync } from './ui/shell/urlSync';
import './ui/shell/styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html must contain an element with id "root".');

void useStudio.getState().loadCapability();
registerServiceWorker();
startRunRecording();
// A demo link opens the demo layout; any other link sets the studio up as it says.
const link = readLink();
if (link.demo) void useDemo.getState().loadByName(link.demo);
else startUrlSync(link);

createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
