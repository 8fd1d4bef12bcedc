/** Concurrent executions of one service or method, and their cap (`executes`). */
export class ExecutionCounter {
  active = 0;
  constructor(readonly limit: number) {}

  tryEnter(): boolean {
    if (this.active >= this.limit) return false;
    this.active++;
    return true;
  }

  leave(): void {
    this.active--;
  }
}
