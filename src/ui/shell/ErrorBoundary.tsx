// A rendering bug must leave an explanation on screen, never a blank page. React only offers
// error boundaries as class components.

import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  children: ReactNode;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error('Compression Studio failed to render', error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <section className="card notice notice-error" role="alert">
        <h2>Something went wrong while drawing the studio</h2>
        <p className="mono">{error.message}</p>
        <p>Reload the page. If it happens again, please report it with your browser version.</p>
      </section>
    );
  }
}
