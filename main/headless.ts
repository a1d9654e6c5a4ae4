import { Service } from './service'

/** `npm run serve`: the service without Electron, for headless workstations and scripts. */
async function main(): Promise<void> {
  let service: Service
  try {
    // Refuses, naming the file and what is wrong: a settings.json that does not parse, a database from a newer
    // version (both left exactly as they are), a bad setting or models.yaml.
    service = new Service()
  } catch (err) {
    console.error(`vllm-batch-server: cannot start: ${(err as Error).message}`)
    process.exit(1)
  }
  try {
    await service.start()
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    console.error(
      e.syscall === 'listen' || e.syscall === 'getaddrinfo'
        ? `vllm-batch-server: cannot listen on ${service.settings.host}:${service.settings.port}: ${e.message}`
        : `vllm-batch-server: cannot start: ${e.message}`,
    )
    process.exit(1)
  }
  const { host, port } = service.settings
  console.log(
    [
      `vLLM Batch Server listening on http://${host}:${service.port} (this machine: ${service.url})`,
      ...(port === 0 ? [`(port 0: the system chose ${service.port})`] : []),
      `API key: kept in ${service.apiKeyOrigin}`,
      `Data: ${service.settings.dataDir}`,
      `Models: ${service.modelsPath}`,
    ].join('\n'),
  )

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: stopping`)
    service.stop().then(
      () => {
        console.log('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        console.error(`error while stopping: ${(err as Error).message}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

void main()
