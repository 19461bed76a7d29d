// Entry point. The capability probe starts before the first render so that the worker and the
// adapter request overlap with React's start-up.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import { useStudio } from './ui/store';
import './ui/styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html must contain an element with id "root".');

void useStudio.getState().loadCapability();

createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
