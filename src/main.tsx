// Entry point. The capability probe starts before the first render so that the worker and the
// adapter request overlap with React's start-up.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import { useDemo } from './ui/demoStore';
import { registerServiceWorker } from './ui/registerServiceWorker';
import { startRunRecording } from './ui/runRecording';
import { useStudio } from './ui/store';
import { readLink, startUrlSync } from './ui/urlSync';
import './ui/styles.css';

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
