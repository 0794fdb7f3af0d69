// The MQTT broker on Container Apps. One replica (all connection state lives in the replica that owns
// the connection; more replicas need the Redis backplane of DESIGN.md). Ports:
//   443  MQTT over WSS: the main ingress is HTTP, terminates TLS, requires the device's client
//        certificate (clientCertificateMode: require) and forwards it in X-Forwarded-Client-Cert to the
//        broker's forwarded WebSocket listener on 8080, which checks it as the TLS listener does
//   8883 MQTT over TLS: an additional TCP port, passed through, so the broker terminates TLS itself
//   8081 internal API + /healthz (additional port, internal to the environment's network)
param location string
param tags object
param name string
@description('Whether the app exists already: then its current image is kept (azd deploys images).')
param exists bool
param environmentName string
param identityId string
param identityClientId string
param registryServer string
param tableServiceUri string
param eventGridTopicEndpoint string
param apiKeySecretUri string
param serverCertificateSecretUri string
@description('Event batching window: Event Grid operations and function executions fall with the batch size; QoS 1 PUBACKs wait up to this long.')
@minValue(0)
@maxValue(10000)
param batchWindowMilliseconds int = 250

var mqttPort = 8883
var forwardedWebSocketPort = 8080
var apiPort = 8081
var tlsDirectory = '/mnt/tls'

resource existingApp 'Microsoft.App/containerApps@2024-03-01' existing = if (exists) {
  name: name
}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' existing = {
  name: environmentName
}

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        transport: 'http'
        targetPort: forwardedWebSocketPort
        allowInsecure: false
        clientCertificateMode: 'require'
        additionalPortMappings: [
          { external: true, targetPort: mqttPort, exposedPort: mqttPort }
          { external: false, targetPort: apiPort, exposedPort: apiPort }
        ]
      }
      registries: [{ server: registryServer, identity: identityId }]
      secrets: [
        { name: 'broker-api-key', keyVaultUrl: apiKeySecretUri, identity: identityId }
        { name: 'broker-server-pem', keyVaultUrl: serverCertificateSecretUri, identity: identityId }
      ]
    }
    template: {
      containers: [
        {
          name: 'broker'
          image: exists ? existingApp!.properties.template.containers[0].image : 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'
          resources: { cpu: json('1.0'), memory: '2Gi' }
          env: [
            { name: 'Broker__Mqtt__Port', value: string(mqttPort) }
            // WSS reaches the broker through the ingress on 443 only (no direct TLS WebSocket listener).
            { name: 'Broker__WebSockets__Enabled', value: 'false' }
            { name: 'Broker__WebSockets__Forwarded__Enabled', value: 'true' }
            { name: 'Broker__WebSockets__Forwarded__Port', value: string(forwardedWebSocketPort) }
            { name: 'Broker__Api__BindAddress', value: '0.0.0.0' }
            { name: 'Broker__Api__Port', value: string(apiPort) }
            { name: 'Broker__Api__Key', secretRef: 'broker-api-key' }
            // Key Vault's PEM holds the key and the certificate: one file serves both paths.
            { name: 'Broker__Tls__ServerCertificatePath', value: '${tlsDirectory}/server.pem' }
            { name: 'Broker__Tls__ServerKeyPath', value: '${tlsDirectory}/server.pem' }
            { name: 'Broker__Events__Sink', value: 'EventGrid' }
            { name: 'Broker__Events__EventGridTopicEndpoint', value: eventGridTopicEndpoint }
            { name: 'Broker__Events__ManagedIdentityClientId', value: identityClientId }
            { name: 'Broker__Events__BatchWindowMilliseconds', value: string(batchWindowMilliseconds) }
            { name: 'Storage__TableServiceUri', value: tableServiceUri }
            { name: 'Storage__ManagedIdentityClientId', value: identityClientId }
            { name: 'Platform__Region', value: location }
          ]
          volumeMounts: [{ volumeName: 'tls', mountPath: tlsDirectory }]
          probes: [
            {
              type: 'Startup'
              httpGet: { path: '/healthz', port: apiPort, scheme: 'HTTP' }
              periodSeconds: 5
              failureThreshold: 24
            }
            {
              type: 'Liveness'
              httpGet: { path: '/healthz', port: apiPort, scheme: 'HTTP' }
              periodSeconds: 15
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: { path: '/healthz', port: apiPort, scheme: 'HTTP' }
              periodSeconds: 10
              failureThreshold: 3
            }
          ]
        }
      ]
      volumes: [
        {
          name: 'tls'
          storageType: 'Secret'
          secrets: [{ secretRef: 'broker-server-pem', path: 'server.pem' }]
        }
      ]
      scale: { minReplicas: 1, maxReplicas: 1 }
    }
  }
}

output name string = app.name
output fqdn string = '${app.name}.${environment.properties.defaultDomain}'
output mqttPort int = mqttPort
output webSocketPort int = 443
// Reached from the function app over the VNet.
output internalApiUrl string = 'http://${app.name}.internal.${environment.properties.defaultDomain}:${apiPort}/'
