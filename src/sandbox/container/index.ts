/** Containers' public API (for now: the Docker engine and offline image builds). */
export { parseAptSources, pickDebianArchive, readDebianArchive, type AptSource, type DebianArchive } from './apt-sources.ts';
export { connectDocker, parseDockerHost, DEFAULT_DOCKER_SOCKET, DOCKER_API_VERSION, type DockerEndpoint } from './docker-engine.ts';
export { buildImage, hasImage, type BuiltImage, type BuildImageOptions } from './image-build.ts';
export { BUNDLED_IMAGE_RECIPE_DIR, imageTag, loadImageRecipes, parseImageRecipe, type ImageRecipe } from './image-recipe.ts';
export { hardenedContainerConfig, CORDON_RUNNER_LABEL, CORDON_SANDBOX_LABEL, type ContainerLimits, type HardenedContainerSpec } from './hardened-container.ts';
export { listCordonContainers, removeOrphanContainers, type CordonContainer } from './container-gc.ts';
export { currentRunnerId, isRunnerAlive } from '../../core/runner-id.ts';
export { createContainerBackend, type ContainerBackend, type ContainerBackendConfig, type ContainerBackendOptions } from './container-backend.ts';
export type { ContainerProfileSettings } from './container-slot.ts';
